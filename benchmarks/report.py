"""Medians, ratios, targets, and the files a run leaves in ``benchmarks/results/``:
``results.json`` (every raw run and every median), ``results.md`` and PNG charts."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .contenders import CONTENDERS, MIB, WORKLOADS, Cell, Mode

METRICS = (
    "calls_per_s",
    "cpu_us_per_call",
    "p50_ms",
    "p99_ms",
    "mean_ms",
    "peak_rss_mib",
    "threads_peak",
    "cpu_cores",
    "sys_us_per_call",
    "switches_per_call",
    "stub_cpu_us_per_call",
    "other_cores",
    "calls",
    "loop_lag_max_ms",
    "loop_lag_p99_ms",
    "loop_lag_own_max_ms",
    "loop_lag_own_p99_ms",
)
# The worst repetition is kept too for these: a stall is a stall.
WORST_METRICS = ("loop_lag_max_ms", "loop_lag_own_max_ms")
LOOP_LAG_LIMIT_MS = 10.0
# Ratios to the baseline are given for these.
RATIO_METRICS = ("calls_per_s", "cpu_us_per_call", "p50_ms", "p99_ms", "peak_rss_mib")
CONTENDER_ORDER = list(CONTENDERS)
CHARTS = {
    "calls_per_s.png": "SSM GetParameter calls/s by concurrency, 0 ms and 50 ms endpoint latency",
    "cpu_per_call.png": "client CPU µs per call, per workload",
    "memory_threads.png": "peak RSS and threads with 1,000 calls in flight",
    "s3_throughput.png": "S3 1 MiB GetObject / PutObject MiB/s by concurrency",
    "bridge.png": "bare bridge overhead, µs per awaited no-op",
}

Entry = dict[str, Any]
X = "\N{MULTIPLICATION SIGN}"  # the ratio sign
DISTURBED_CORES = 0.25
RESULTS_JSON = Path(__file__).resolve().parent / "results" / "results.json"


# -- medians and ratios ------------------------------------------------------


def cell_of(record: dict[str, Any]) -> Cell:
    return Cell(
        record["contender"],
        record["workload"],
        record["latency_ms"],
        record["concurrency"],
        record["pool"],
    )


def summarise(runs: list[dict[str, Any]]) -> list[Entry]:
    """One entry per cell: the median of each metric over its successful runs."""
    by_cell: dict[Cell, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_cell[cell_of(run)].append(run)
    entries = []
    for cell, cell_runs in by_cell.items():
        ok = [r for r in cell_runs if "error" not in r]
        median: dict[str, float] = {}
        for metric in METRICS:
            values = [r[metric] for r in ok if r.get(metric) is not None]
            if values:
                median[metric] = statistics.median(values)
        payload = WORKLOADS[cell.workload].bytes_per_call
        if payload and "calls_per_s" in median:
            median["mib_per_s"] = median["calls_per_s"] * payload / MIB
        if "calls_per_s" in median:
            median["us_per_call"] = 1e6 / median["calls_per_s"]
        worst = {
            metric: max(r[metric] for r in ok if metric in r)
            for metric in WORST_METRICS
            if any(metric in r for r in ok)
        }
        compared = [r["parsed_same_as_boto3"] for r in ok if "parsed_same_as_boto3" in r]
        entries.append(
            {
                **asdict(cell),
                "key": cell.key,
                "reps": len(cell_runs),
                "reps_ok": len(ok),
                "errors": [r["error"] for r in cell_runs if "error" in r],
                "spread": _spread(ok),
                "median": median,
                "worst": worst,
                # One call per run compared with sync boto3's (benchmarks/parity.py).
                "parsed_same_as_boto3": all(compared) if compared else None,
                "parsed_differences": sorted(
                    {r["parsed_difference"] for r in ok if "parsed_difference" in r}
                ),
            }
        )
    entries.sort(key=_sort_key)
    _add_ratios(entries)
    return entries


def _spread(ok: list[dict[str, Any]]) -> dict[str, float]:
    """(max - min) / median of calls/s over the repetitions: how noisy the cell was."""
    values = [r["calls_per_s"] for r in ok]
    if len(values) < 2:
        return {}
    return {"calls_per_s": (max(values) - min(values)) / statistics.median(values)}


def _sort_key(entry: Entry) -> tuple[Any, ...]:
    return (
        list(WORKLOADS).index(entry["workload"]),
        entry["latency_ms"],
        entry["concurrency"],
        entry["pool"],
        CONTENDER_ORDER.index(entry["contender"]),
    )


def find(entries: list[Entry], **where: Any) -> Entry | None:
    for entry in entries:
        if all(entry[k] == v for k, v in where.items()) and entry["median"]:
            return entry
    return None


def ratios(entry: Entry, baseline: Entry | None, metrics: tuple[str, ...]) -> dict[str, float]:
    if baseline is None:
        return {}
    out = {}
    for metric in metrics:
        value, base = entry["median"].get(metric), baseline["median"].get(metric)
        if value is not None and base:
            out[metric] = value / base
    return out


def baseline_of(entries: list[Entry], entry: Entry) -> Entry | None:
    """Sync boto3 (sequential) for the same workload and latency; run_in_executor
    at the same concurrency and pool for the bridge."""
    if entry["workload"] == "noop":
        return find(
            entries,
            contender="run_in_executor",
            workload="noop",
            concurrency=entry["concurrency"],
            pool=entry["pool"],
        )
    return find(
        entries, contender="boto3", workload=entry["workload"], latency_ms=entry["latency_ms"]
    )


def _add_ratios(entries: list[Entry]) -> None:
    same_cell = ("workload", "latency_ms", "concurrency", "pool")
    for entry in entries:
        baseline = baseline_of(entries, entry)
        entry["baseline"] = baseline["contender"] if baseline else None
        metrics = (*RATIO_METRICS, "us_per_call") if entry["workload"] == "noop" else RATIO_METRICS
        entry["vs_baseline"] = ratios(entry, baseline, metrics)
        # The engines' own targets compare them with their natural rivals.
        rival = {"aboto3-threads": "aboto3-0.1.2", "aboto3-native": "aiobotocore"}.get(
            entry["contender"]
        )
        if rival and entry["workload"] != "noop":
            other = find(entries, contender=rival, **{k: entry[k] for k in same_cell})
            entry[f"vs_{rival}"] = ratios(entry, other, RATIO_METRICS)


# -- targets -------------------------------------------------------------------


def targets(entries: list[Entry]) -> list[dict[str, Any]]:
    """The engines' targets, each marked met, not met, or not measured."""
    out = []
    out += _engine_targets(entries)
    out += _big_response_targets(entries)
    return out


def _target(
    name: str, entry: Entry | None, key: str, metric: str, limit: float, at_most: bool
) -> dict[str, Any]:
    """A ratio target: ``entry[key][metric]`` against ``limit``."""
    ratio = entry.get(key, {}).get(metric) if entry else None
    met = None if ratio is None else (ratio <= limit if at_most else ratio >= limit)
    return {
        "target": name,
        "cell": entry["key"] if entry else None,
        "metric": metric,
        "value": entry["median"].get(metric) if entry else None,
        "ratio": ratio,
        "limit": limit,
        "met": met,
    }


def _big_response_targets(entries: list[Entry]) -> list[dict[str, Any]]:
    """Issue 22's targets: big responses parsed cheaply with the loop kept free,
    small calls nearer the floor, and the small-object ratio to obstore."""
    out = []

    def native(workload: str, concurrency: int) -> Entry | None:
        return find(
            entries,
            contender="aboto3-native",
            workload=workload,
            latency_ms=0,
            concurrency=concurrency,
            pool=10,
        )

    query = native("ddbquery", 64)
    out.append(
        _target(
            f"aboto3 native, DynamoDB Query c=64: calls/s ≥ 3{X} aiobotocore",
            query, "vs_aiobotocore", "calls_per_s", 3.0, at_most=False,
        )
    )  # fmt: skip
    out.append(
        _target(
            f"aboto3 native, DynamoDB Query c=64: CPU µs/call ≤ 0.5{X} sync boto3",
            query, "vs_baseline", "cpu_us_per_call", 0.5, at_most=True,
        )
    )  # fmt: skip
    for workload, label in (("ddbscan", "DynamoDB Scan 1 MB"), ("s3list", "S3 ListObjectsV2")):
        out.append(
            _target(
                f"aboto3 native, {label} c=4: CPU µs/call ≤ 0.35{X} sync boto3",
                native(workload, 4), "vs_baseline", "cpu_us_per_call", 0.35, at_most=True,
            )
        )  # fmt: skip
    for workload, concurrency, label in (
        ("ddbquery", 64, "DynamoDB Query c=64"),
        ("ddbscan", 4, "DynamoDB Scan 1 MB c=4"),
        ("s3list", 4, "S3 ListObjectsV2 c=4"),
    ):
        entry = native(workload, concurrency)
        lag = entry["worst"].get("loop_lag_own_max_ms") if entry else None
        out.append(
            {
                "target": f"aboto3 native, {label}: loop lag max ≤ {LOOP_LAG_LIMIT_MS:.0f} ms "
                "(worst repetition, CPU waits excluded)",
                "cell": entry["key"] if entry else None,
                "metric": "loop_lag_own_max_ms",
                "value": lag,
                "ratio": None,
                "unit": "ms",
                "limit": LOOP_LAG_LIMIT_MS,
                "met": None if lag is None else lag <= LOOP_LAG_LIMIT_MS,
            }
        )
    ssm = native("ssm", 64)
    out.append(
        _target(
            f"aboto3 native, SSM c=64: calls/s ≥ 2.2{X} aiobotocore",
            ssm, "vs_aiobotocore", "calls_per_s", 2.2, at_most=False,
        )
    )  # fmt: skip
    floor = find(entries, contender="floor", workload="ssm", latency_ms=0)
    out.append(
        _target(
            f"aboto3 native, SSM c=64: CPU µs/call ≤ 0.9{X} the botocore floor",
            _with_ratio(ssm, "vs_floor", "cpu_us_per_call", floor),
            "vs_floor", "cpu_us_per_call", 0.9, at_most=True,
        )
    )  # fmt: skip
    small = native("s3get16k", 64)
    obstore = find(entries, contender="obstore", workload="s3get16k", latency_ms=0, concurrency=64)
    reported = _target(
        "aboto3 native, S3 GetObject 16 KiB c=64: calls/s against obstore (reported, no limit)",
        _with_ratio(small, "vs_obstore", "calls_per_s", obstore),
        "vs_obstore", "calls_per_s", 0.0, at_most=False,
    )  # fmt: skip
    reported["met"] = None
    reported["report_only"] = True
    out.append(reported)
    return out


def _engine_targets(entries: list[Entry]) -> list[dict[str, Any]]:
    out = []

    def add(
        name: str, entry: Entry | None, key: str, metric: str, limit: float, at_most: bool
    ) -> None:
        out.append(_target(name, entry, key, metric, limit, at_most))

    for engine in ("threads", "native"):
        for concurrency in (1, 64):
            add(
                f"aboto3 {engine} bridge, c={concurrency}: µs per awaited no-op "
                f"≤ 0.25{X} run_in_executor",
                find(
                    entries, contender=f"aboto3-{engine}", workload="noop", concurrency=concurrency
                ),
                "vs_baseline",
                "us_per_call",
                0.25,
                at_most=True,
            )
    ssm64 = {"workload": "ssm", "latency_ms": 0, "concurrency": 64}
    for pool in (10, 64):
        add(
            f"aboto3 threads, SSM c=64 pool {pool}: calls/s ≥ 1.3{X} aboto3 0.1.2",
            find(entries, contender="aboto3-threads", pool=pool, **ssm64),
            "vs_aboto3-0.1.2",
            "calls_per_s",
            1.3,
            at_most=False,
        )
    native = find(entries, contender="aboto3-native", pool=10, **ssm64)
    add(
        f"aboto3 native, SSM c=64: CPU µs/call ≤ 0.8{X} sync boto3",
        native,
        "vs_baseline",
        "cpu_us_per_call",
        0.8,
        at_most=True,
    )
    add(
        f"aboto3 native, SSM c=64: calls/s ≥ 1.5{X} aiobotocore",
        native,
        "vs_aiobotocore",
        "calls_per_s",
        1.5,
        at_most=False,
    )
    floors = {
        key: find(entries, contender=key, workload="ssm", latency_ms=0)
        for key in ("floor", "floor-cpp-signer", "floor-unsigned")
    }
    add(
        f"aboto3 native, SSM c=64: CPU µs/call ≤ 1.0{X} the botocore floor",
        _with_ratio(native, "vs_floor", "cpu_us_per_call", floors["floor"]),
        "vs_floor",
        "cpu_us_per_call",
        1.0,
        at_most=True,
    )
    add(
        f"aboto3 native, DynamoDB GetItem c=64: calls/s ≥ 1.4{X} aiobotocore",
        find(
            entries,
            contender="aboto3-native",
            workload="ddb",
            latency_ms=0,
            concurrency=64,
            pool=10,
        ),
        "vs_aiobotocore",
        "calls_per_s",
        1.4,
        at_most=False,
    )
    add(
        f"aboto3 native, S3 GET 1 MiB c=64: peak RSS ≤ 1.0{X} aiobotocore",
        find(
            entries,
            contender="aboto3-native",
            workload="s3get",
            latency_ms=0,
            concurrency=64,
            pool=10,
        ),
        "vs_aiobotocore",
        "peak_rss_mib",
        1.0,
        at_most=True,
    )
    out.append(_signing_share(floors))
    return out


def _with_ratio(entry: Entry | None, key: str, metric: str, other: Entry | None) -> Entry | None:
    """``entry`` with ``entry[key][metric]`` set to its ratio to ``other``'s."""
    if entry is None or other is None:
        return entry
    value, base = entry["median"].get(metric), other["median"].get(metric)
    ratio = value / base if value is not None and base else None
    return {**entry, key: {metric: ratio} if ratio is not None else {}}


def _signing_share(floors: dict[str, Entry | None]) -> dict[str, Any]:
    """The C++ signer's share of the floor's CPU (floor with it minus the floor
    unsigned) over botocore's signer's share (the floor minus the floor unsigned)."""
    cpu = {
        key: entry["median"].get("cpu_us_per_call") if entry else None
        for key, entry in floors.items()
    }
    ratio = None
    if None not in cpu.values():
        botocore_share = cpu["floor"] - cpu["floor-unsigned"]  # type: ignore[operator]
        ours = cpu["floor-cpp-signer"] - cpu["floor-unsigned"]  # type: ignore[operator]
        ratio = ours / botocore_share if botocore_share > 0 else None
    cpp = floors["floor-cpp-signer"]
    return {
        "target": f"C++ signer, SSM: signing CPU ≤ 0.15{X} botocore's signer "
        "(each floor minus the unsigned floor)",
        "cell": cpp["key"] if cpp else None,
        "metric": "cpu_us_per_call",
        "value": cpu["floor-cpp-signer"],
        "ratio": ratio,
        "limit": 0.15,
        # A negative share is noise (the floors' difference within their spread).
        "met": None if ratio is None or ratio < 0 else ratio <= 0.15,
    }


# -- the machine ---------------------------------------------------------------


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    versions = {
        dist: _version(dist)
        for dist in ("aboto3", "boto3", "botocore", "aiobotocore", "aiohttp", "urllib3", "greenlet")
    }
    requirement = None
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        requirement = next(
            (
                r
                for r in importlib.metadata.requires("aiobotocore") or []
                if r.startswith("botocore")
            ),
            None,
        )
    pip_check = subprocess.run(
        [sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": versions,
        "aiobotocore_requires": requirement,
        "pip_check": pip_check.stdout.strip() or pip_check.stderr.strip(),
        "aboto3_commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}"
        if commit
        else None,
    }


def build(
    *,
    mode: Mode,
    runs: list[dict[str, Any]],
    skipped: dict[str, str],
    affinity: str,
    elapsed_s: float,
    quiet_policy: str = "",
    loop_lag: bool = True,
) -> dict[str, Any]:
    entries = summarise([r for r in runs if "discarded" not in r])
    stub_share = [
        e["median"]["stub_cpu_us_per_call"] / e["median"]["cpu_us_per_call"]
        for e in entries
        if "stub_cpu_us_per_call" in e["median"] and e["contender"] != "floor"
    ]
    return {
        "meta": {
            "mode": mode.name,
            "repetitions": mode.reps,
            "duration_s": mode.duration_s,
            "warmup_s": mode.warmup_s,
            "pinning": affinity,
            "quiet_policy": quiet_policy,
            "loop_lag": loop_lag,
            "elapsed_s": round(elapsed_s, 1),
            "machine": machine_info(),
            "contenders": {
                key: {
                    "label": c.label,
                    "about": c.about,
                    "skipped": skipped.get(key),
                }
                for key, c in CONTENDERS.items()
            },
            "stub_cpu_share": {
                "median": statistics.median(stub_share) if stub_share else None,
                "max": max(stub_share) if stub_share else None,
            },
        },
        "targets": targets(entries),
        "cells": entries,
        "runs": runs,
    }


# -- markdown ------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}{X}"


def _label(key: str) -> str:
    return CONTENDERS[key].label


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["--:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def markdown(data: dict[str, Any]) -> str:
    meta, entries = data["meta"], data["cells"]
    machine = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines = [
        "# aboto3 benchmark results",
        "",
        f"Mode **{meta['mode']}**: {meta['repetitions']} repetition(s) of every cell, each in a "
        f"fresh process against a fresh stub endpoint; {meta['warmup_s']} s of warm-up, then "
        f"{meta['duration_s']} s measured; figures are medians over the repetitions"
        + (
            " (a single repetition: development figures, not for publishing)."
            if meta["repetitions"] == 1
            else "."
        ),
        f"Every ratio ({X}) is to the baseline measured in this same run: sync boto3 (sequential) "
        f"for the AWS calls, `loop.run_in_executor` for the bridge. calls/s: higher is better; "
        f"CPU and latency: lower is better.",
        "",
        f"- Date: {machine['date']}; run took {meta['elapsed_s']:.0f} s",
        f"- Machine: {machine['cpu_model']}, {machine['cpus']} CPUs, Linux {machine['kernel']}, "
        f"{machine['python_implementation']} {machine['python']}",
        f"- Versions: {versions}; `pip check`: {machine['pip_check']}",
        f"- botocore for every contender: {machine['versions'].get('botocore')}, the version "
        f"aiobotocore {machine['versions'].get('aiobotocore')} forced "
        f"(it requires `{machine['aiobotocore_requires']}`; boto3 follows it)",
        f"- aboto3 commit: {machine['aboto3_commit']}",
        f"- CPU pinning: {meta['pinning']}",
        f"- Other load: {meta.get('quiet_policy') or 'not checked'}",
        "- Load average (1, 5, 15 min) before the run: "
        + ", ".join(f"{x:.2f}" for x in meta.get("loadavg_before", ()))
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in meta.get("loadavg_after", ())),
        "- Pool: `max_pool_connections` is the same for every contender in a row "
        "(the `pool` column): 10, and at concurrency ≥ 64 also min(concurrency, 100).",
        "",
    ]
    skipped = {k: c["skipped"] for k, c in meta["contenders"].items() if c["skipped"]}
    for key, reason in skipped.items():
        lines.append(f"> **{_label(key)} was not measured**: {reason}")
        lines.append("")

    lines += ["## Targets", ""]
    rows = []
    for t in data["targets"]:
        met = {True: "**met**", False: "not met", None: "not measured"}[t["met"]]
        if t.get("report_only") and t["ratio"] is not None:
            met = "reported"
        measured = f"{_num(t['value'], 1)} ms" if t.get("unit") == "ms" else _ratio(t["ratio"])
        rows.append([t["target"], measured, met])
    lines += _table(["target", "measured", ""], rows)
    lines.append("")

    lines += _headline(entries)
    lines += _big_responses(entries, meta)
    lines += _bridge(entries)

    lines += ["## Every cell", ""]
    lines.append(
        "c: tasks in flight (sync contenders are sequential whatever the concurrency). "
        "CPU: the client process's user + system time over the measured section, per call. "
        "Latency: each awaited call, queueing in the client included. Peak RSS: the "
        "client process's maximum resident set. Threads: most seen during the measured section. "
        "Context switches: voluntary + involuntary, of the whole client process (GIL "
        "hand-offs and thread wake-ups show here). "
        "Stub CPU: the endpoint's own CPU per call in the same section."
    )
    lines.append("")
    groups: dict[tuple[str, int], list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry["workload"] != "noop":
            groups[(entry["workload"], entry["latency_ms"])].append(entry)
    for (workload, latency), group in groups.items():
        lines += [f"### {WORKLOADS[workload].label}, endpoint latency {latency} ms", ""]
        lines += _detail_table(workload, group)
        lines.append("")

    share = meta["stub_cpu_share"]
    if share["median"] is not None:
        lines += [
            "## The stub endpoint",
            "",
            f"The C++ stub used a median of {share['median']:.0%} of the client's CPU time per "
            f"call (at most {share['max']:.0%}, in the cell where the client was cheapest): "
            "the clients, not the endpoint, are what is measured.",
            "",
        ]
    used = [r for r in data["runs"] if "discarded" not in r]
    discarded = len(data["runs"]) - len(used)
    disturbed = [(r, r["other_cores"]) for r in used if r.get("other_cores", 0) > DISTURBED_CORES]
    others = [r["other_cores"] for r in used if "other_cores" in r]
    if others:
        lines += [
            "## Other load on the machine",
            "",
            f"CPU used by everything but the client and the stub during the measured sections "
            f"(from /proc/stat): median {statistics.median(others):.2f} cores, "
            f"max {max(others):.2f}. "
            + (
                f"{len(disturbed)} of {len(others)} runs used still saw more than "
                f"{DISTURBED_CORES} cores of other load (listed below); medians over the "
                "repetitions soften them."
                if disturbed
                else "No run used was disturbed noticeably."
            )
            + (
                f" {discarded} disturbed attempt(s) were measured again; they are kept, "
                "marked `discarded`, in results.json."
                if discarded
                else ""
            ),
            "",
        ]
        if disturbed:
            lines += ["<details><summary>disturbed runs (other load, cores)</summary>", ""]
            lines += [f"- `{cell_of(r).key}` rep {r['rep']}: {o:.2f}" for r, o in disturbed]
            lines += ["", "</details>", ""]
    differing = [(e["key"], d) for e in entries for d in e.get("parsed_differences", [])]
    if differing:
        lines += ["## Parsed differently from sync boto3", ""]
        lines += [f"- `{key}`: {difference}" for key, difference in differing]
        lines.append("")
    failures = [(e["key"], err) for e in entries for err in e["errors"]]
    if failures:
        lines += ["## Failed runs", ""]
        lines += [f"- `{key}`: {error}" for key, error in failures]
        lines.append("")
    lines += ["## Contenders", ""]
    for key, c in meta["contenders"].items():
        if any(e["contender"] == key for e in entries) or c["skipped"]:
            lines.append(f"- **{c['label']}** (`{key}`): {c['about']}")
    lines.append("")
    charts = [name for name in CHARTS if name in data.get("charts", [])]
    if charts:
        lines += ["## Charts", ""]
        lines += [f"![{CHARTS[name]}]({name})" for name in charts]
        lines.append("")
    return "\n".join(lines)


def _headline(entries: list[Entry]) -> list[str]:
    lines: list[str] = []
    for latency in (0, 50):
        ssm = [
            e
            for e in entries
            if e["workload"] == "ssm" and e["latency_ms"] == latency and e["pool"] == 10
        ]
        concurrencies = sorted({e["concurrency"] for e in ssm if e["contender"] != "boto3"})
        if not ssm or not concurrencies:
            continue
        lines += [
            f"## SSM GetParameter, {latency} ms endpoint latency, pool 10",
            "",
            f"calls/s ({X} sync boto3) and client CPU µs per call ({X} sync boto3):",
            "",
        ]
        header = ["contender", *(f"c={c} calls/s" for c in concurrencies)]
        header += [f"c={c} CPU µs/call" for c in concurrencies]
        rows = []
        for key in CONTENDER_ORDER:
            mine = [e for e in ssm if e["contender"] == key]
            if not mine:
                continue
            if not CONTENDERS[key].is_async:
                only = mine[0]
                cps = [f"{_num(only['median'].get('calls_per_s'))} (sequential)"] + [""] * (
                    len(concurrencies) - 1
                )
                cpu = [_cell_value(only, "cpu_us_per_call")] + [""] * (len(concurrencies) - 1)
            else:
                at = {e["concurrency"]: e for e in mine}
                cps = [_cell_value(at.get(c), "calls_per_s") for c in concurrencies]
                cpu = [_cell_value(at.get(c), "cpu_us_per_call") for c in concurrencies]
            rows.append([_label(key), *cps, *cpu])
        lines += _table(header, rows)
        lines.append("")
    return lines


def _big_responses(entries: list[Entry], meta: dict[str, Any]) -> list[str]:
    big = [e for e in entries if e["workload"] in ("ddbquery", "ddbscan", "s3list")]
    if not big:
        return []
    lines = [
        "## Big responses: DynamoDB Query and Scan pages, S3 listings",
        "",
        "What botocore's response parser is slow on. calls/s and client CPU µs per call "
        f"({X} sync boto3, and CPU {X} the botocore floor, which answers HTTP in-process); "
        "loop lag: how late a 1 ms ticker on the event loop fired during the measured "
        "section, worst repetition, with the time the loop thread waited for a CPU taken "
        "off (the wall clock's figure beside it); parsed = boto3: one call of every run "
        "compared with sync boto3's output (keys, order, values and types). "
        + ", ".join(
            f"{w.label.split(',')[0]} cells last {w.duration_scale:g}{X} the mode's warm-up "
            "and measured section"
            for w in WORKLOADS.values()
            if w.duration_scale != 1 and any(e["workload"] == w.key for e in big)
        )
        + " (they make a few calls a second).",
        "",
    ]
    if not meta.get("loop_lag", True):
        lines += ["The loop-lag ticker was off in this run (`--no-loop-lag`).", ""]
    header = ["workload", "contender", "c", "calls/s", X, "CPU µs/call", X, f"{X} floor"]
    header += ["vs aiobotocore", "loop lag max ms", "wall clock", "lag p99 ms", "parsed = boto3"]
    rows = []
    for e in big:
        m, r = e["median"], e["vs_baseline"]
        if not m:
            rows.append([WORKLOADS[e["workload"]].label, _label(e["contender"]), "failed"])
            continue
        floor = find(entries, contender="floor", workload=e["workload"], latency_ms=0)
        to_floor = _with_ratio(e, "vs_floor", "cpu_us_per_call", floor)
        rival = find(
            entries,
            contender="aiobotocore",
            workload=e["workload"],
            latency_ms=0,
            concurrency=e["concurrency"],
            pool=e["pool"],
        )
        to_rival = _with_ratio(e, "vs_aiobotocore", "calls_per_s", rival)
        sync = not CONTENDERS[e["contender"]].is_async
        same = {True: "yes", False: "**no**", None: "—"}[e.get("parsed_same_as_boto3")]
        rows.append(
            [
                WORKLOADS[e["workload"]].label,
                _label(e["contender"]),
                "seq." if sync else str(e["concurrency"]),
                _num(m.get("calls_per_s")),
                _ratio(r.get("calls_per_s")),
                _num(m.get("cpu_us_per_call")),
                _ratio(r.get("cpu_us_per_call")),
                _ratio((to_floor or {}).get("vs_floor", {}).get("cpu_us_per_call")),
                _ratio(
                    (to_rival or {}).get("vs_aiobotocore", {}).get("calls_per_s")
                    if e["contender"] not in ("aiobotocore", "boto3", "floor")
                    else None
                ),
                _num(e["worst"].get("loop_lag_own_max_ms"), 1),
                _num(e["worst"].get("loop_lag_max_ms"), 1),
                _num(m.get("loop_lag_p99_ms"), 1),
                same,
            ]
        )
    lines += _table(header, rows)
    lines.append("")
    return lines


def _cell_value(entry: Entry | None, metric: str) -> str:
    if entry is None:
        return "—"
    if metric not in entry["median"]:
        return "failed" if entry["errors"] else "—"
    ratio = entry["vs_baseline"].get(metric)
    return (
        f"{_num(entry['median'][metric])} ({_ratio(ratio)})"
        if ratio
        else _num(entry["median"][metric])
    )


def _bridge(entries: list[Entry]) -> list[str]:
    bridge = [e for e in entries if e["workload"] == "noop"]
    if not bridge:
        return []
    # The baseline first in each concurrency.
    bridge.sort(key=lambda e: (e["concurrency"], e["contender"] != "run_in_executor"))
    lines = [
        "## The bare bridge: awaiting a no-op",
        "",
        "µs per call is wall time per completed call (1 / calls per second): at c=1 the round "
        "trip, at c=64 the throughput cost. Ratios are to `loop.run_in_executor` on a "
        "`ThreadPoolExecutor` of the same size.",
        "",
    ]
    rows = []
    for e in bridge:
        m, r = e["median"], e["vs_baseline"]
        rows.append(
            [
                _label(e["contender"]),
                str(e["concurrency"]),
                str(e["pool"]),
                _num(m.get("us_per_call"), 1),
                _ratio(r.get("us_per_call")),
                _num(m.get("cpu_us_per_call"), 1),
                _ratio(r.get("cpu_us_per_call")),
                _num(m.get("p99_ms"), 3),
                _num(m.get("threads_peak")),
            ]
        )
    header = ["contender", "c", "pool", "µs/call", X, "CPU µs/call", X, "p99 ms", "threads"]
    lines += _table(header, rows)
    lines.append("")
    return lines


def _detail_table(workload: str, group: list[Entry]) -> list[str]:
    throughput = bool(WORKLOADS[workload].bytes_per_call)
    header = ["contender", "c", "pool", "calls/s", X]
    if throughput:
        header.append("MiB/s")
    header += [
        "CPU µs/call",
        X,
        "p50 ms",
        "p99 ms",
        "peak RSS MiB",
        "threads",
        "ctx switches/call",
        "stub CPU µs/call",
        "loop lag max ms",
        "vs rival",
    ]
    rows = []
    for e in group:
        m, r = e["median"], e["vs_baseline"]
        if not m:
            rows.append([_label(e["contender"]), str(e["concurrency"]), str(e["pool"]), "failed"])
            continue
        rival = ""
        for rival_key in ("aboto3-0.1.2", "aiobotocore"):
            ratio = e.get(f"vs_{rival_key}", {}).get("calls_per_s")
            if ratio:
                rival = f"{ratio:.2f}{X} {_label(rival_key)} calls/s"
        sync = not CONTENDERS[e["contender"]].is_async
        row = [
            _label(e["contender"]),
            "seq." if sync else str(e["concurrency"]),
            str(e["pool"]),
            _num(m.get("calls_per_s")),
            _ratio(r.get("calls_per_s")),
        ]
        if throughput:
            row.append(_num(m.get("mib_per_s")))
        row += [
            _num(m.get("cpu_us_per_call")),
            _ratio(r.get("cpu_us_per_call")),
            _num(m.get("p50_ms"), 2),
            _num(m.get("p99_ms"), 2),
            _num(m.get("peak_rss_mib")),
            _num(m.get("threads_peak")),
            _num(m.get("switches_per_call"), 1),
            _num(m.get("stub_cpu_us_per_call")),
            _num(m.get("loop_lag_own_max_ms"), 1),
            rival,
        ]
        if e["spread"].get("calls_per_s", 0) > 0.15:
            row[3] += " ±"  # noisy: repetitions differ by more than 15 %
        rows.append(row)
    lines = _table(header, rows)
    if any(e["spread"].get("calls_per_s", 0) > 0.15 for e in group):
        lines += ["", "± : the repetitions' calls/s spread over more than 15 % of the median."]
    return lines


# -- charts --------------------------------------------------------------------


def charts(data: dict[str, Any], out_dir: Path) -> list[str]:
    """Draw the PNG charts; returns the names of the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries: list[Entry] = data["cells"]
    written = []
    drawers: dict[str, Callable[[Any, list[Entry]], Any]] = {
        "calls_per_s.png": _chart_calls,
        "cpu_per_call.png": _chart_cpu,
        "memory_threads.png": _chart_memory,
        "s3_throughput.png": _chart_s3,
        "bridge.png": _chart_bridge,
    }
    for name, draw in drawers.items():
        figure = draw(plt, entries)
        if figure is None:
            continue
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=110)
        plt.close(figure)
        written.append(name)
    return written


def _color(key: str) -> str:
    """The same colour for a contender in every chart."""
    return f"C{CONTENDER_ORDER.index(key) % 10}"


def _async_keys(entries: list[Entry]) -> list[str]:
    present = {e["contender"] for e in entries}
    return [k for k in CONTENDER_ORDER if k in present and CONTENDERS[k].is_async]


def _chart_calls(plt: Any, entries: list[Entry]) -> Any:
    ssm = [e for e in entries if e["workload"] == "ssm" and e["median"]]
    latencies = sorted({e["latency_ms"] for e in ssm})
    if not ssm:
        return None
    figure, axes = plt.subplots(
        1, len(latencies), figsize=(6.2 * len(latencies), 4.6), squeeze=False
    )
    for ax, latency in zip(axes[0], latencies):
        cells = [e for e in ssm if e["latency_ms"] == latency]
        for key in _async_keys(cells):
            color = _color(key)
            for variant, style in (("pool 10", "-o"), ("pool = min(c, 100)", "--s")):
                points = sorted(
                    (e["concurrency"], e["median"]["calls_per_s"])
                    for e in cells
                    if e["contender"] == key
                    and (e["pool"] == 10) == (variant == "pool 10")
                    and "calls_per_s" in e["median"]
                )
                if points:
                    label = _label(key) + ("" if variant == "pool 10" else f" ({variant})")
                    ax.plot(*zip(*points), style, color=color, label=label, alpha=0.9)
        for key, style in (("boto3", ":"), ("floor", "-.")):
            base = find(cells, contender=key)
            if base:
                ax.axhline(
                    base["median"]["calls_per_s"], linestyle=style, color="grey", label=_label(key)
                )
        ax.set_xscale("log")
        ax.set_xlabel("calls in flight (concurrency)")
        ax.set_ylabel("calls/s")
        ax.set_title(f"SSM GetParameter, endpoint latency {latency} ms")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return figure


def _chart_cpu(plt: Any, entries: list[Entry]) -> Any:
    groups = []
    for workload in ("ssm", "ddb", "s3get", "s3get16k", "s3put"):
        cells = [
            e
            for e in entries
            if e["workload"] == workload and e["latency_ms"] == 0 and e["pool"] == 10
        ]
        async_c = [e["concurrency"] for e in cells if CONTENDERS[e["contender"]].is_async]
        if not cells or not async_c:
            continue
        top = 64 if 64 in async_c else max(async_c)
        chosen = [
            e
            for e in cells
            if (not CONTENDERS[e["contender"]].is_async or e["concurrency"] == top)
            and "cpu_us_per_call" in e["median"]
        ]
        groups.append((f"{WORKLOADS[workload].label}\n(async at c={top})", chosen))
    if not groups:
        return None
    keys = [k for k in CONTENDER_ORDER if any(e["contender"] == k for _, g in groups for e in g)]
    figure, ax = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(keys)
    for index, key in enumerate(keys):
        xs, ys = [], []
        for g, (_, cells) in enumerate(groups):
            entry = find(cells, contender=key)
            if entry:
                xs.append(g + index * width)
                ys.append(entry["median"]["cpu_us_per_call"])
        ax.bar(xs, ys, width, label=_label(key), color=_color(key))
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    ax.set_xticklabels([name for name, _ in groups], fontsize=8)
    ax.set_ylabel("client CPU µs per call (lower is better)")
    ax.set_title("Client CPU per call, endpoint latency 0 ms, pool 10")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return figure


def _chart_memory(plt: Any, entries: list[Entry]) -> Any:
    ssm = [e for e in entries if e["workload"] == "ssm" and e["median"] and e["concurrency"] > 1]
    if not ssm:
        return None
    top = max(e["concurrency"] for e in ssm)
    latency = max(e["latency_ms"] for e in ssm if e["concurrency"] == top)
    cells = [e for e in ssm if e["concurrency"] == top and e["latency_ms"] == latency]
    cells.sort(key=lambda e: (e["pool"], CONTENDER_ORDER.index(e["contender"])))
    labels = [f"{_label(e['contender'])}\npool {e['pool']}" for e in cells]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, metric, title in (
        (axes[0], "peak_rss_mib", "peak RSS, MiB"),
        (axes[1], "threads_peak", "threads (peak)"),
    ):
        colors = [_color(e["contender"]) for e in cells]
        ax.bar(range(len(cells)), [e["median"].get(metric, 0) for e in cells], color=colors)
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(labels, fontsize=7, rotation=45, ha="right")
        ax.set_title(f"{title}: SSM, c={top}, latency {latency} ms")
        ax.grid(axis="y", alpha=0.3)
    return figure


def _chart_s3(plt: Any, entries: list[Entry]) -> Any:
    workloads = [w for w in ("s3get", "s3put") if any(e["workload"] == w for e in entries)]
    if not workloads:
        return None
    figure, axes = plt.subplots(
        1, len(workloads), figsize=(6.2 * len(workloads), 4.4), squeeze=False
    )
    for ax, workload in zip(axes[0], workloads):
        cells = [e for e in entries if e["workload"] == workload and "mib_per_s" in e["median"]]
        for key in _async_keys(cells):
            points = sorted(
                (e["concurrency"], e["median"]["mib_per_s"]) for e in cells if e["contender"] == key
            )
            ax.plot(*zip(*points), "-o", color=_color(key), label=_label(key))
        for key, style in (("boto3", ":"), ("floor", "-.")):
            base = find(cells, contender=key)
            if base:
                ax.axhline(
                    base["median"]["mib_per_s"], linestyle=style, color="grey", label=_label(key)
                )
        ax.set_xscale("log")
        ax.set_xlabel("calls in flight (concurrency)")
        ax.set_ylabel("MiB/s")
        ax.set_title(WORKLOADS[workload].label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return figure


def _chart_bridge(plt: Any, entries: list[Entry]) -> Any:
    bridge = [e for e in entries if e["workload"] == "noop" and "us_per_call" in e["median"]]
    if not bridge:
        return None
    concurrencies = sorted({e["concurrency"] for e in bridge})
    keys = [k for k in CONTENDER_ORDER if any(e["contender"] == k for e in bridge)]
    figure, ax = plt.subplots(figsize=(7, 4.2))
    width = 0.8 / len(keys)
    for index, key in enumerate(keys):
        xs, ys = [], []
        for g, concurrency in enumerate(concurrencies):
            entry = find(bridge, contender=key, concurrency=concurrency)
            if entry:
                xs.append(g + index * width)
                ys.append(entry["median"]["us_per_call"])
        ax.bar(xs, ys, width, label=_label(key), color=_color(key))
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(concurrencies))])
    ax.set_xticklabels([f"c={c}" for c in concurrencies])
    ax.set_ylabel("µs per awaited no-op (lower is better)")
    ax.set_title("The bare bridge")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return figure


# -- writing -------------------------------------------------------------------


def write(
    data: dict[str, Any], out_dir: Path, *, charts_too: bool = True, log: Any = print
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    data["charts"] = []
    if charts_too:
        try:
            data["charts"] = charts(data, out_dir)
        except ImportError as error:
            log(f"no charts: {error} (pip install -e .[bench])")
    (out_dir / "results.json").write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    (out_dir / "results.md").write_text(markdown(data) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Re-render results.md and the charts from a results.json (after editing this module)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=main.__doc__)
    parser.add_argument(
        "results",
        type=Path,
        nargs="?",
        default=RESULTS_JSON,
        help="a results.json, or a raw .jsonl log of an interrupted run (results/raw/)",
    )
    parser.add_argument("--out", type=Path, help="output directory (default: beside the input)")
    parser.add_argument("--no-charts", dest="charts", action="store_false")
    args = parser.parse_args(argv)
    if args.results.suffix == ".jsonl":
        runs = [json.loads(line) for line in args.results.read_text().splitlines() if line]
        mode = Mode(
            f"partial, rebuilt from {args.results.name}",
            reps=max(r["rep"] for r in runs),
            duration_s=float("nan"),
            warmup_s=float("nan"),
        )
        data = build(mode=mode, runs=runs, skipped={}, affinity="see the run's log", elapsed_s=0)
    else:
        data = json.loads(args.results.read_text())
    out_dir = args.out or args.results.parent
    write(data, out_dir, charts_too=args.charts)
    print(out_dir / "results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
