"""Run the benchmark: every contender, each cell in a fresh process, one stub per cell.

    python -m benchmarks.run --quick      # development: under two minutes, 1 repetition
    python -m benchmarks.run --full       # the published results (3 repetitions)
    python -m benchmarks.run --list       # print the cells of a mode and exit
    python -m benchmarks.run --contender aboto3-threads --workload ssm --concurrency 64
                                          # one contender / cell, for debugging

``--full`` writes ``benchmarks/results/`` (results.md, results.json, *.png);
``--quick`` writes ``benchmarks/results/quick/`` and a filtered run writes
``benchmarks/results/debug/`` unless ``--out`` says otherwise, so that neither
overwrites the published figures. See ``benchmarks/README.md`` for the method.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .contenders import (
    BENCH_DIR,
    CONTENDERS,
    ORIGINAL_DIR,
    ORIGINAL_VERSION,
    PORTABLE_DIR,
    WORKLOADS,
    Cell,
    Mode,
)
from .report import DISTURBED_CORES
from .stub import StubServer, build_stub_server
from .worker import RESULT_PREFIX, machine_busy_s

REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
ASYNC_CONTENDERS = (
    "to_thread",
    "aboto3-0.1.2",
    "aiobotocore",
    "aboto3-threads",
    "aboto3-native",
    "aboto3-pure",
    "aboto3-native-poll",
)
BRIDGE_CONTENDERS = ("run_in_executor", "aboto3-threads", "aboto3-native", "aboto3-pure")
FLOORS = ("floor", "floor-cpp-signer", "floor-unsigned")
# Small objects: the native engine against aiobotocore and a client with no botocore.
SMALL_GET_CONTENDERS = ("aboto3-native", "aiobotocore", "obstore")
# Big responses (issue 22): each workload at its concurrency, against sync boto3
# and the botocore floor.
BIG_RESPONSES = {"ddbquery": 64, "ddbscan": 4, "s3list": 4}
BIG_CONTENDERS = ("aiobotocore", "aboto3-threads", "aboto3-native")
DEFAULT_POOL = 10
MAX_POOL = 100


def pools_for(concurrency: int) -> list[int]:
    """The default pool, plus one sized to the concurrency (capped) when that differs."""
    pools = [DEFAULT_POOL]
    if concurrency > DEFAULT_POOL:
        pools.append(min(concurrency, MAX_POOL))
    return pools


def json_cells(
    workload: str, latency_ms: int, concurrencies: Iterable[int], *, pool_variants: bool
) -> list[Cell]:
    """Sync baselines once (they are sequential), then every async contender per cell."""
    cells = [Cell("boto3", workload, latency_ms, 1, DEFAULT_POOL)]
    if latency_ms == 0:
        cells += [Cell(c, workload, 0, 1, DEFAULT_POOL) for c in FLOORS]
    for concurrency in concurrencies:
        pools = pools_for(concurrency) if pool_variants else [DEFAULT_POOL]
        for pool in pools:
            cells += [Cell(c, workload, latency_ms, concurrency, pool) for c in ASYNC_CONTENDERS]
    return cells


def small_get_cells(concurrency: int) -> list[Cell]:
    return [
        Cell("boto3", "s3get16k", 0, 1, DEFAULT_POOL),
        *(Cell(c, "s3get16k", 0, concurrency, DEFAULT_POOL) for c in SMALL_GET_CONTENDERS),
    ]


def big_response_cells(
    workloads: Iterable[str] = BIG_RESPONSES, contenders: Iterable[str] = BIG_CONTENDERS
) -> list[Cell]:
    cells = []
    for workload in workloads:
        concurrency = BIG_RESPONSES[workload]
        cells += [Cell(c, workload, 0, 1, DEFAULT_POOL) for c in ("boto3", "floor")]
        cells += [Cell(c, workload, 0, concurrency, DEFAULT_POOL) for c in contenders]
    return cells


def bridge_cells(concurrencies: Iterable[int]) -> list[Cell]:
    return [
        Cell(c, "noop", 0, concurrency, DEFAULT_POOL)
        for concurrency in concurrencies
        for c in BRIDGE_CONTENDERS
    ]


def quick_mode() -> Mode:
    cells = [
        *json_cells("ssm", 0, (1, 64), pool_variants=False),
        *json_cells("ssm", 50, (64,), pool_variants=False),
        *[c for c in json_cells("ssm", 50, (1000,), pool_variants=True) if c.pool == MAX_POOL],
        *json_cells("s3get", 0, (10,), pool_variants=False),
        *json_cells("s3put", 0, (10,), pool_variants=False),
        *big_response_cells(("ddbquery",), ("aiobotocore", "aboto3-native")),
        *bridge_cells((1, 64)),
    ]
    return Mode("quick", reps=1, duration_s=0.7, warmup_s=0.2, cells=cells)


def full_mode() -> Mode:
    cells = [
        *json_cells("ssm", 0, (1, 10, 64, 1000), pool_variants=True),
        *json_cells("ssm", 50, (1, 10, 64, 1000), pool_variants=True),
        *json_cells("ddb", 0, (1, 64), pool_variants=False),
        *json_cells("s3get", 0, (1, 10, 64), pool_variants=False),
        *json_cells("s3put", 0, (1, 10, 64), pool_variants=False),
        *small_get_cells(64),
        *big_response_cells(),
        *bridge_cells((1, 64)),
    ]
    return Mode("full", reps=3, duration_s=1.5, warmup_s=0.4, cells=cells)


# -- preparing the contenders ------------------------------------------------


def ensure_original_installed() -> str | None:
    """Install the published aboto3 0.1.2 into its own directory (never on
    sys.path). Returns why it could not be, or None."""
    if (ORIGINAL_DIR / "aboto3" / "__init__.py").exists():
        return None
    print(f"installing aboto3=={ORIGINAL_VERSION} into {ORIGINAL_DIR.relative_to(REPO_ROOT)}")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--target",
        str(ORIGINAL_DIR),
        f"aboto3=={ORIGINAL_VERSION}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"pip could not install aboto3=={ORIGINAL_VERSION}: {result.stderr.strip()[-300:]}"
    return None


def ensure_portable_built() -> str | None:
    """Build our extension with ABOTO3_PORTABLE=ON into PORTABLE_DIR (as
    .ci/variants does). Returns why it could not be, or None."""
    package = PORTABLE_DIR / "aboto3"
    # Rebuilt whenever the sources differ from those it was built from.
    code = sorted(p for p in (REPO_ROOT / "src").rglob("*") if p.suffix in (".cpp", ".h", ".py"))
    stamp = hashlib.sha1(
        b"".join(p.read_bytes() for p in [REPO_ROOT / "CMakeLists.txt", *code])
    ).hexdigest()
    stamp_file = PORTABLE_DIR / "sources.sha1"
    if list(package.glob("_core*.so")) and stamp_file.exists() and stamp_file.read_text() == stamp:
        return None
    if shutil.which("cmake") is None:
        return "cmake is not installed (pip install cmake)"
    print(f"building the portable extension into {PORTABLE_DIR.relative_to(REPO_ROOT)}")
    import nanobind

    build = PORTABLE_DIR / "build"
    configure = [
        "cmake", "-S", str(REPO_ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        "-DABOTO3_PORTABLE=ON", f"-Dnanobind_DIR={nanobind.cmake_dir()}",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]  # fmt: skip
    for command in (configure, ["cmake", "--build", str(build), "-j", "2"]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return f"could not build the portable extension: {result.stdout[-300:]}"
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "src" / "aboto3", package,
                    ignore=shutil.ignore_patterns("_core*.so", "__pycache__"))  # fmt: skip
    for built in build.glob("_core*.so"):
        shutil.copy2(built, package)
    stamp_file.write_text(stamp)
    return None


def check_contenders(keys: Iterable[str]) -> dict[str, str]:
    """Why each unavailable contender is skipped."""
    prepare = {
        "aboto3-0.1.2": ensure_original_installed,
        "aboto3-native-poll": ensure_portable_built,
    }
    skipped: dict[str, str] = {}
    for key in keys:
        reason = prepare[key]() if key in prepare else None
        reason = reason or CONTENDERS[key].unavailable()
        if reason:
            skipped[key] = reason
    return skipped


# -- running cells -----------------------------------------------------------


def worker_env() -> dict[str, str]:
    """The environment of every worker: no ambient AWS configuration, no proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_PROXY="*",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@dataclass
class Affinity:
    """Which CPUs the stub and the client may use (None: no pinning)."""

    stub: set[int] | None = None
    client: set[int] | None = None

    @classmethod
    def choose(cls, pin: bool) -> Affinity:
        cpus = sorted(os.sched_getaffinity(0))
        if not pin or len(cpus) < 2:
            return cls()
        return cls(stub={cpus[0]}, client=set(cpus[1:]))

    def describe(self) -> str:
        if self.stub is None:
            return "none: the stub and the client share all CPUs, scheduled by the kernel"
        return f"stub on CPU {sorted(self.stub)}, client on CPU {sorted(self.client or ())}"


QUIET_WAIT_S = 10.0
RETRIES = 2


def other_load(window_s: float = 0.25) -> float:
    """Cores busy on the machine over a short window while we run nothing."""
    before = machine_busy_s()
    time.sleep(window_s)
    return (machine_busy_s() - before) / window_s


def wait_until_quiet(log: Any) -> float:
    """Wait (up to QUIET_WAIT_S) for other processes to leave the CPUs alone."""
    deadline = time.monotonic() + QUIET_WAIT_S
    load = other_load()
    if load <= DISTURBED_CORES:
        return load
    log(f"  the machine is busy ({load:.2f} cores used by others): waiting for quiet")
    while load > DISTURBED_CORES and time.monotonic() < deadline:
        time.sleep(1.0)
        load = other_load()
    return load


def measure_cell(
    cell: Cell, mode: Mode, affinity: Affinity, rep: int, log: Any, loop_lag: bool = True
) -> list[dict[str, Any]]:
    """Run a cell, repeating it (at most RETRIES times) when other processes
    took more than DISTURBED_CORES of CPU during its measured section.

    Every attempt is returned and kept in results.json; the statistics use
    the least disturbed one. What decides is the machine's other load,
    measured independently of the result, never the result itself.
    """
    attempts: list[dict[str, Any]] = []
    for attempt in range(1, RETRIES + 2):
        quiet = wait_until_quiet(log)
        result = run_cell(cell, mode, affinity, loop_lag=loop_lag)
        attempts.append({**asdict(cell), "rep": rep, "attempt": attempt, **result})
        attempts[-1]["other_cores_before"] = quiet
        if result.get("other_cores", 0.0) <= DISTURBED_CORES:
            break
        log(f"  disturbed ({result['other_cores']:.2f} cores of other load): measuring again")
    best = min(attempts, key=lambda r: r.get("other_cores", 0.0))
    for record in attempts:
        if record is not best:
            record["discarded"] = "disturbed by other load; a less disturbed attempt is used"
    return attempts


def run_cell(
    cell: Cell, mode: Mode, affinity: Affinity, timeout_s: float = 180.0, loop_lag: bool = True
) -> dict[str, Any]:
    """Measure one cell in a fresh worker process against a fresh stub."""
    spec: dict[str, Any] = {
        "cell": asdict(cell),
        "duration_s": mode.duration_s,
        "warmup_s": mode.warmup_s,
        "cpu": sorted(affinity.client) if affinity.client else None,
        "loop_lag": loop_lag,
    }
    command = [sys.executable, "-m", "benchmarks.worker"]
    if cell.workload == "noop":
        return _run_worker(command, spec, timeout_s)
    with StubServer(latency_ms=cell.latency_ms) as stub:
        if affinity.stub:
            os.sched_setaffinity(stub.pid, affinity.stub)
        spec["endpoint_url"] = stub.endpoint_url
        return _run_worker(command, spec, timeout_s)


def _run_worker(command: list[str], spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [*command, json.dumps(spec)],
            cwd=REPO_ROOT,
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"worker exited with status {proc.returncode}: {tail}"}


def run_benchmark(
    mode: Mode,
    out_dir: Path,
    *,
    pin: bool = False,
    quiet: bool = True,
    charts: bool = True,
    log: Any = print,
    loop_lag: bool = True,
) -> dict[str, Any]:
    """Run every cell of ``mode`` ``mode.reps`` times and write the report to ``out_dir``.
    ``loop_lag``: watch each asyncio contender's loop with a 1 ms ticker."""
    from . import report

    build_stub_server()
    wanted = sorted({cell.contender for cell in mode.cells}, key=list(CONTENDERS).index)
    skipped = check_contenders(wanted)
    for key, reason in skipped.items():
        log(f"skipping {CONTENDERS[key].label}: {reason}")
    cells = [cell for cell in mode.cells if cell.contender not in skipped]
    affinity = Affinity.choose(pin)
    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    started = time.monotonic()
    total = len(cells) * mode.reps
    # Repetitions are the outer loop, so that a slow drift of the machine
    # touches every contender alike instead of one contender's three runs.
    # Every attempt is also appended to a raw log as it is measured, so an
    # interrupted run still leaves its figures behind.
    raw_dir = RESULTS_DIR / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    raw_log = raw_dir / f"{mode.name.split()[0]}-{stamp}.jsonl"
    done = 0
    for rep in range(1, mode.reps + 1):
        for cell in cells:
            attempts = measure_cell(cell, mode, affinity, rep, log, loop_lag) if quiet else []
            if not quiet:
                result = run_cell(cell, mode, affinity, loop_lag=loop_lag)
                attempts = [{**asdict(cell), "rep": rep, **result}]
            runs += attempts
            with raw_log.open("a") as raw:
                raw.writelines(json.dumps(record) + "\n" for record in attempts)
            done += 1
            used = next(r for r in attempts if "discarded" not in r)
            log(f"[{done:>3}/{total}] rep {rep} {_summary(cell, used)}")
    elapsed = time.monotonic() - started
    data = report.build(
        mode=mode,
        runs=runs,
        skipped=skipped,
        affinity=affinity.describe(),
        quiet_policy=(
            f"before each cell, wait up to {QUIET_WAIT_S:.0f} s for other processes to use "
            f"under {DISTURBED_CORES} cores; repeat a run whose measured section saw more "
            f"(at most {RETRIES} times) and use its least disturbed attempt"
            if quiet
            else "off: every run is used as measured"
        ),
        elapsed_s=elapsed,
        loop_lag=loop_lag,
    )
    # Anything else busy on the machine skews every figure: say so.
    data["meta"]["loadavg_before"] = load_before
    data["meta"]["loadavg_after"] = os.getloadavg()
    report.write(data, out_dir, charts_too=charts, log=log)
    log(f"done in {elapsed:.0f} s: {out_dir / 'results.md'}")
    return data


def _summary(cell: Cell, result: dict[str, Any]) -> str:
    where = f"{cell.contender:<16} {cell.workload:<6} lat {cell.latency_ms:>2} ms"
    where += f" c {cell.concurrency:>4} pool {cell.pool:>3}"
    if "error" in result:
        return f"{where}: FAILED {result['error']}"
    line = (
        f"{where}: {result['calls_per_s']:>8.0f} calls/s "
        f"{result['cpu_us_per_call']:>7.0f} us CPU/call p99 {result['p99_ms']:>7.1f} ms"
    )
    if "loop_lag_max_ms" in result:
        line += f" loop lag max {result['loop_lag_max_ms']:.1f} ms"
    if result.get("parsed_same_as_boto3") is False:
        line += f" PARSED DIFFERENTLY: {result['parsed_difference']}"
    return line + f" (other load {result['other_cores']:.2f} cores)"


# -- command line ------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark aboto3 against the other ways of calling AWS from asyncio.",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_const", dest="mode", const="quick")
    which.add_argument("--full", action="store_const", dest="mode", const="full")
    parser.set_defaults(mode="quick")
    parser.add_argument("--contender", action="append", choices=list(CONTENDERS))
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS))
    parser.add_argument("--latency", action="append", type=int, help="endpoint latency, ms")
    parser.add_argument("--concurrency", action="append", type=int)
    parser.add_argument("--pool", action="append", type=int, help="max_pool_connections")
    parser.add_argument("--reps", type=int, help="repetitions (default: 1 quick, 3 full)")
    parser.add_argument("--duration", type=float, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per cell")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="pin the stub and the client to different CPUs (default: off)",
    )
    parser.add_argument(
        "--quiet-wait",
        dest="quiet",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait for other load to settle and repeat disturbed runs "
        "(default: on with --full, off with --quick)",
    )
    parser.add_argument("--no-charts", dest="charts", action="store_false")
    parser.add_argument(
        "--no-loop-lag",
        dest="loop_lag",
        action="store_false",
        help="do not watch the asyncio contenders' loops with the 1 ms ticker",
    )
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    return parser.parse_args(argv)


def select(cells: list[Cell], args: argparse.Namespace) -> list[Cell]:
    def keep(cell: Cell) -> bool:
        return all(
            wanted is None or value in wanted
            for value, wanted in (
                (cell.contender, args.contender),
                (cell.workload, args.workload),
                (cell.latency_ms, args.latency),
                (cell.concurrency, args.concurrency),
                (cell.pool, args.pool),
            )
        )

    # A filter that matches none of the mode's cells builds the cell it names.
    selected = [cell for cell in cells if keep(cell)] or _requested_cells(args)
    # Ratios need their baseline, measured in the same run.
    baselines = []
    for cell in selected:
        if cell.workload == "noop":
            baseline = Cell("run_in_executor", "noop", 0, cell.concurrency, cell.pool)
        else:
            baseline = Cell("boto3", cell.workload, cell.latency_ms, 1, DEFAULT_POOL)
        if baseline not in selected and baseline not in baselines:
            baselines.append(baseline)
    return baselines + selected


def _requested_cells(args: argparse.Namespace) -> list[Cell]:
    if not (args.contender and args.workload):
        return []
    cells = []
    for contender in args.contender:
        for workload in args.workload:
            if workload not in CONTENDERS[contender].workloads:
                continue
            for latency in args.latency or [0]:
                for concurrency in args.concurrency or [1]:
                    for pool in args.pool or [DEFAULT_POOL]:
                        cells.append(Cell(contender, workload, latency, concurrency, pool))
    return cells


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode = full_mode() if args.mode == "full" else quick_mode()
    filtered = any(
        v is not None
        for v in (args.contender, args.workload, args.latency, args.concurrency, args.pool)
    )
    if filtered:
        mode.cells = select(mode.cells, args)
    mode.reps = args.reps or mode.reps
    mode.duration_s = args.duration or mode.duration_s
    mode.warmup_s = args.warmup if args.warmup is not None else mode.warmup_s
    if args.list:
        for cell in mode.cells:
            print(cell.key)
        print(f"{len(mode.cells)} cells x {mode.reps} repetitions")
        return 0
    if not mode.cells:
        print("no cell matches the filters (see --list)", file=sys.stderr)
        return 2
    out_dir = args.out or (
        RESULTS_DIR / "debug"
        if filtered
        else RESULTS_DIR / "quick"
        if args.mode == "quick"
        else RESULTS_DIR
    )
    if filtered:
        mode.name += " (filtered)"
    # A terminated run still stops its stub endpoint and its worker.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    quiet = args.quiet if args.quiet is not None else args.mode == "full"
    run_benchmark(
        mode, out_dir, pin=args.pin, quiet=quiet, charts=args.charts, loop_lag=args.loop_lag
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
