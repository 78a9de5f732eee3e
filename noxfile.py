"""Development sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s demo``, ``nox -s bench``,
``nox -s compat`` (the compatibility matrix), ``nox -s soak`` (neither run by default)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
PYTHONS = ["3.11"]
ROOT = Path(__file__).resolve().parent


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy."""
    session.install("-e", ".[dev]")
    paths = ["src", "tests", "benchmarks", "examples", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("mypy")


@nox.session(python=PYTHONS)
def demo(session: nox.Session) -> None:
    """Concurrent calls through AIOClient against a local moto server, vs plain boto3."""
    session.install("-e", ".[dev]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=PYTHONS)
def bench(session: nox.Session) -> None:
    """The benchmark against every alternative; ``nox -s bench -- --full`` for the full run."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "-m", "benchmarks.run", *(session.posargs or ["--quick"]))


@nox.session(python=PYTHONS)
def soak(session: nox.Session) -> None:
    """1,000,000 mixed calls per engine; ``nox -s soak -- --calls 100000`` for fewer."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "benchmarks.soak", *session.posargs)


# -- compatibility matrix ----------------------------------------------------------
# Every claimed pairing, from the oldest boto3 (pyproject: boto3>=1.26) on the
# oldest Python to the newest boto3 on the newest: 1.28 is the first with
# urllib3 2, 1.36 turned flexible checksums on by default. Each cell installs
# the wheel built for its Python (built once per Python, reused while the
# sources are unchanged) into a fresh venv with that boto3, then runs the tests
# (`nox -s compat -- tests/test_parity.py` runs a subset). docs/compat.md says
# which cells CI runs and which run before a release.
COMPAT = [
    ("3.9", "1.26"),
    ("3.10", "1.28"),
    ("3.11", "1.34"),
    ("3.12", "1.36"),
    ("3.12", "1.40"),
    ("3.13", "newest"),
]


def _add_pyenv_pythons_to_path() -> None:
    """nox finds ``python3.X`` on PATH; pyenv's builds live under its root."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    bins = sorted(str(p) for p in root.glob("3.*/bin") if p.is_dir())
    os.environ["PATH"] = os.pathsep.join([*os.environ.get("PATH", "").split(os.pathsep), *bins])


_add_pyenv_pythons_to_path()


def _wheel(session: nox.Session) -> str:
    """The aboto3 wheel for this session's Python, built if the sources changed."""
    sources = hashlib.sha1()
    for path in sorted(
        [ROOT / "pyproject.toml", ROOT / "CMakeLists.txt", *(ROOT / "src").rglob("*")]
    ):
        if path.is_file() and "__pycache__" not in path.parts:
            sources.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    version = session.run(
        "python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])", silent=True
    )
    out = ROOT / ".nox" / "compat-wheels" / str(version).strip() / sources.hexdigest()[:16]
    wheels = sorted(out.glob("aboto3-*.whl"))
    if not wheels:
        session.run(
            "python",
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(ROOT),
            env={"CMAKE_BUILD_PARALLEL_LEVEL": os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")},
        )
        wheels = sorted(out.glob("aboto3-*.whl"))
    return str(wheels[-1])


@nox.session
@nox.parametrize(
    ("python", "boto3"),
    [nox.param(python, boto3, id=f"{python}-boto3-{boto3}") for python, boto3 in COMPAT],
)
def compat(session: nox.Session, boto3: str) -> None:
    """The test suite against the built wheel, per (Python, boto3) cell."""
    wheel = _wheel(session)
    extras = "dev,encryption" if boto3 == "newest" else "dev"  # encryption needs boto3 1.43.6+
    session.install(
        f"aboto3[{extras}] @ file://{wheel}", "boto3" if boto3 == "newest" else f"boto3=={boto3}.*"
    )
    session.run(
        "python",
        "-c",
        "import boto3, botocore, urllib3, moto, aboto3._native as n; "
        "print('boto3', boto3.__version__, 'botocore', botocore.__version__, "
        "'urllib3', urllib3.__version__, 'moto', moto.__version__, "
        "'enforce_content_length', n.ENFORCE_CONTENT_LENGTH)",
    )
    # The 100k-call soak (test_native_engine) is about the engine, not boto3's
    # version, and `./dev test` runs it whole: a cell runs a fifth of it.
    env = {"ABOTO3_SOAK_CALLS": os.environ.get("ABOTO3_SOAK_CALLS", "20000")}
    session.run("pytest", "-p", "no:cacheprovider", *(session.posargs or ["tests"]), env=env)
