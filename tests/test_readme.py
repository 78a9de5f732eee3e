"""Every ```python block of README.md runs as written, against a local moto server.

Each block runs in a fresh interpreter (``sys.executable``) from the repository
root, with ``AWS_ENDPOINT_URL`` pointing at this test's moto server (its state
reset) and fake credentials, as the README tells a reader to set up. A block
may use top-level ``await`` (the README's opening sketch does): it then runs
as in ``python -m asyncio``, inside an event loop. Blocks are found anew on
every run, so a new README section is tested without touching this file; a
test's id is the nearest heading above its block and the block's number under
that heading.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import aboto3

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMEOUT = 90

# Runs a file of Python source; top-level await makes it run in an event loop.
# Every client a block makes must talk to the local moto server: botocore
# before 1.31 ignores AWS_ENDPOINT_URL, so there the runner passes it as
# endpoint_url itself, and any client whose endpoint is not on 127.0.0.1 stops
# the block before it sends anything.
RUNNER = """
import ast, asyncio, inspect, os, sys, urllib.parse
import botocore.session

local = os.environ["AWS_ENDPOINT_URL"]
create_client = botocore.session.Session.create_client
probe = create_client(botocore.session.Session(), "sts", region_name="us-east-1")
honoured = probe.meta.endpoint_url == local
probe.close()

def local_client(self, service_name, *args, **kwargs):
    if not honoured and len(args) < 5 and kwargs.get("endpoint_url") is None:
        kwargs["endpoint_url"] = local
    client = create_client(self, service_name, *args, **kwargs)
    host = urllib.parse.urlsplit(client.meta.endpoint_url).hostname
    if host != "127.0.0.1":
        raise RuntimeError(f"README example would reach {client.meta.endpoint_url}, not moto")
    return client

botocore.session.Session.create_client = local_client
path = sys.argv[1]
source = open(path, encoding="utf-8").read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
namespace = {"__name__": "__main__", "__file__": path}
if code.co_flags & inspect.CO_COROUTINE:
    asyncio.run(eval(code, namespace))
else:
    exec(code, namespace)
"""


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """``(id, source)`` of every ```python block, in order."""
    blocks: list[tuple[str, str]] = []
    heading = "top"
    per_heading: dict[str, int] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^\s*(`{3,}|~{3,})\s*(\S*)", line)
        if fence:
            marker, language = fence.groups()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            if language.lower() in ("python", "py", "python3"):
                slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or "top"
                per_heading[slug] = per_heading.get(slug, 0) + 1
                source = textwrap.dedent("\n".join(body)) + "\n"
                blocks.append((f"{slug}-{per_heading[slug]}", source))
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_python_examples() -> None:
    # The parametrised test below would silently shrink if the parser broke.
    assert len(BLOCKS) >= 8, [name for name, _ in BLOCKS]
    assert len({name for name, _ in BLOCKS}) == len(BLOCKS)


@pytest.mark.parametrize("source", [s for _, s in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_readme_block_runs(source: str, moto_url: str, tmp_path: Path) -> None:
    if 'engine="native"' in source and "native" not in aboto3.engines():
        pytest.skip("this install has no native engine")
    if "s3_encryption" in source and importlib.util.find_spec("s3_encryption") is None:
        pytest.skip("amazon-s3-encryption-client-python is not installed (Python 3.10+)")
    script = tmp_path / "readme_block.py"
    script.write_text(source, encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PYTEST_", "BOTO"))
    }
    env.update(
        AWS_ENDPOINT_URL=moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", RUNNER, str(script)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"README block did not finish in {TIMEOUT} s:\n{source}\n{error.stderr}")
    if proc.returncode != 0:
        pytest.fail(
            f"README block exited with {proc.returncode}:\n"
            f"{textwrap.indent(source, '    ')}\n--- stderr ---\n{proc.stderr}"
        )
