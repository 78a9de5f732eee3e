"""Development sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s demo``, ``nox -s bench``,
``nox -s soak`` (not run by default)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
PYTHONS = ["3.11"]


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
