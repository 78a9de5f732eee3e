"""``python -m benchmarks.stub [--latency-ms N] [--threads N]``: run the stub server."""

from .launcher import main

raise SystemExit(main())
