"""Keeps the benchmark runner from rotting: one tiny cell end to end, no timings asserted."""

from __future__ import annotations

import json
from pathlib import Path

from .contenders import Cell
from .run import Mode, full_mode, main, quick_mode, run_benchmark


def test_tiny_run_end_to_end(tmp_path: Path) -> None:
    mode = Mode(
        "test",
        reps=1,
        duration_s=0.5,  # long enough that a loaded machine still completes calls in it
        warmup_s=0.02,
        cells=[Cell("boto3", "ssm", 0, 1, 2), Cell("aboto3-threads", "ssm", 0, 4, 2)],
    )
    logged: list[str] = []
    run_benchmark(mode, tmp_path, quiet=False, charts=False, log=logged.append)

    data = json.loads((tmp_path / "results.json").read_text())
    by_contender = {cell["contender"]: cell for cell in data["cells"]}
    assert set(by_contender) == {"boto3", "aboto3-threads"}
    for cell in by_contender.values():
        assert cell["errors"] == []
        assert cell["median"]["calls"] > 0
        assert cell["median"]["threads_peak"] >= 1
        assert cell["median"]["stub_cpu_us_per_call"] >= 0
    threads = by_contender["aboto3-threads"]
    assert threads["baseline"] == "boto3"
    assert threads["vs_baseline"]["calls_per_s"] > 0
    assert len(data["runs"]) == 2
    assert data["meta"]["machine"]["versions"]["botocore"]
    markdown = (tmp_path / "results.md").read_text()
    assert "aboto3 threads" in markdown
    assert "## Targets" in markdown


def test_modes_and_listing(capsys: object) -> None:
    for mode in (quick_mode(), full_mode()):
        keys = [cell.key for cell in mode.cells]
        assert len(keys) == len(set(keys))
        assert {"boto3", "aboto3-threads", "run_in_executor"} <= {c.contender for c in mode.cells}
    assert main(["--list", "--contender", "aboto3-threads", "--workload", "ssm"]) == 0


def test_signing_share_runs() -> None:
    from .signing import FLOORS, measure

    best = measure(rounds=1, calls=3)
    assert set(best) == set(FLOORS)
    assert all(0 < cpu < float("inf") for cpu in best.values())
