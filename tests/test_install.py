"""What an install can run: the C++ core, the native engine, or the pure-Python fallback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

import aboto3
from aboto3 import _engine


def test_engines_reports_this_install() -> None:
    found = aboto3.engines()
    assert "threads" in found
    assert ("native" in found) == bool(_engine.NATIVE_IO)
    if _engine.HAVE_CORE:
        from aboto3 import _core

        assert _core.build_features()["native_io"] == _engine.NATIVE_IO
        assert _core.build_features()["wakeup"] in ("eventfd", "pipe")
    else:
        assert "pure-Python" in found["threads"]


@pytest.mark.skipif(
    not _engine.HAVE_CORE or bool(_engine.NATIVE_IO),
    reason="needs a build without libcurl (.ci/variants makes one)",
)
def test_native_engine_absent_is_a_clear_error() -> None:
    client = boto3.client("sts", region_name="us-east-1")
    with pytest.raises(RuntimeError) as raised:
        aboto3.AIOClient(client, engine="native")
    message = str(raised.value)
    assert "built without libcurl" in message
    assert "libcurl4-openssl-dev" in message and "engine='threads' works" in message
    aboto3.AIOClient(client)  # the thread engine is there


def package_without_extension(tmp_path: Path) -> Path:
    """A copy of the installed aboto3 package without its C++ extension."""
    source = Path(aboto3.__file__).parent
    target = tmp_path / "pkg" / "aboto3"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_core*.so", "__pycache__"))
    return target.parent


def test_missing_core_falls_back_to_pure_python(tmp_path: Path, moto_url: str) -> None:
    script = textwrap.dedent(f"""
        import asyncio, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import aboto3
            import aboto3.client, aboto3._engine  # importing more warns no more
        assert aboto3.__file__.startswith({str(tmp_path)!r}), aboto3.__file__
        warned = [w for w in caught if issubclass(w.category, aboto3.CoreMissingWarning)]
        assert len(warned) == 1, [str(w.message) for w in caught]
        print("warning:", warned[0].message)
        print("engines:", sorted(aboto3.engines()))
        import boto3
        sts = boto3.client("sts", region_name="us-east-1", endpoint_url={moto_url!r})
        try:
            aboto3.AIOClient(sts, engine="native")
        except RuntimeError as error:
            print("native:", error)

        async def main():
            async with aboto3.AIOClient(sts) as aio:
                identity = await aio.get_caller_identity()
                return identity["Account"], type(aio.engine.pool._pool).__module__

        print("call:", *asyncio.run(main()))
    """)
    # This process's path (its dependencies) after the copy: an installed aboto3
    # (a wheel's, beside botocore in site-packages) is shadowed by it.
    path = [p for p in sys.path if p]
    pythonpath = os.pathsep.join([str(package_without_extension(tmp_path)), *path])
    env = dict(os.environ, PYTHONPATH=pythonpath)
    env.pop("ABOTO3_PURE_PYTHON", None)  # the core is missing, not switched off
    # -S: without site, the editable install's import hook cannot load the extension.
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert "the C++ core is missing" in lines["warning"]
    assert "_core" in lines["warning"]  # the ImportError says what was not found
    assert lines["engines"] == "['threads']"
    assert "C++ core (aboto3._core) is not loaded" in lines["native"]
    assert lines["call"] == "123456789012 aboto3._pure"


def test_forced_pure_python_does_not_warn(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import warnings
        warnings.simplefilter("error")
        import aboto3
        print(aboto3.engines()["threads"])
    """)
    env = dict(os.environ, ABOTO3_PURE_PYTHON="1")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "pure-Python thread pool (no C++ core: ABOTO3_PURE_PYTHON is set)" in done.stdout
