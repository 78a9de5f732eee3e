"""aboto3's benchmarks: the stub AWS endpoint, the contenders and the runner.

Run ``python -m benchmarks.run --quick`` (or ``./dev bench``, ``nox -s bench``);
``benchmarks/README.md`` explains the method.
"""
