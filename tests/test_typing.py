"""Type checking: the README's examples and typed use of the public API pass mypy."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

README = Path(__file__).resolve().parent.parent / "README.md"

# Only these are untyped for mypy; a missing aboto3 must be an error, not Any.
MYPY_INI = """\
[mypy]
check_untyped_defs = True
cache_dir = {cache}

[mypy-boto3.*,botocore.*,s3transfer.*,aws_assume_role_lib.*,aiofiles.*,s3_encryption.*]
ignore_missing_imports = True
"""


def run_mypy(folder: Path, *options: str) -> tuple[str, int]:
    config = folder / "mypy.ini"
    config.write_text(MYPY_INI.format(cache=folder / ".mypy_cache"))
    files = sorted(str(path) for path in folder.glob("*.py"))
    stdout, stderr, status = mypy_api.run(["--config-file", str(config), *options, *files])
    return stdout + stderr, status


def readme_examples() -> list[str]:
    # The examples of the tutorial and after (the opening sketch is not a program),
    # those indented under a list item too.
    text = README.read_text()[README.read_text().index("## Tutorial") :]
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```", text, re.S | re.M)
    return [textwrap.dedent(body) for _, body in blocks]


def test_readme_examples_type_check(tmp_path: Path) -> None:
    examples = readme_examples()
    assert len(examples) >= 15
    for number, example in enumerate(examples):
        (tmp_path / f"readme_example_{number:02}.py").write_text(example)
    output, status = run_mypy(tmp_path)
    assert status == 0, output


TYPED_USE = """
from __future__ import annotations

from typing import Any

import boto3
from types_boto3_ssm import SSMClient

import aboto3


async def use(
    aio: aboto3.AIOClient[SSMClient],
    body: aboto3.AIOStreamingBody,
    events: aboto3.AIOEventStream,
) -> None:
    reveal_type(aio.client)
    waiter = aio.get_waiter("command_executed")
    reveal_type(waiter)
    reveal_type(waiter.wait)
    await waiter.wait(CommandId="c", InstanceId="i")
    pages = aio.get_paginator("describe_parameters", read_ahead=False).paginate()
    reveal_type(pages)
    async for page in pages:
        reveal_type(page)
    async for name in pages.search("Parameters[].Name"):
        reveal_type(name)
    reveal_type(await body.read(10))
    async for chunk in body.iter_chunks(1024):
        reveal_type(chunk)
    async for line in body.iter_lines():
        reveal_type(line)
    async with body:
        pass
    async for event in events:
        reveal_type(event)
    reveal_type(await aio.get_parameter(Name="/x"))
    await aio.close()


def make() -> aboto3.AIOClient[SSMClient]:
    client: SSMClient = boto3.client("ssm")
    return aboto3.AIOClient(client)
"""

REVEALED = [
    "types_boto3_ssm.client.SSMClient",
    "aboto3.waiter.AIOWaiter",
    "def (**kwargs: Any) -> typing.Coroutine[Any, Any, None]",
    "aboto3.paginate.AIOPageIterator",
    "dict[str, Any]",
    "Any",
    "bytes",
    "bytes",
    "bytes",
    "dict[str, Any]",
    "Any",
]


def test_typed_use_is_strict_clean(tmp_path: Path) -> None:
    pytest.importorskip("types_boto3_ssm")
    (tmp_path / "typed_use.py").write_text(TYPED_USE)
    output, status = run_mypy(tmp_path, "--strict")
    assert status == 0, output
    # (older mypy spells builtins out: "builtins.dict[builtins.str, Any]")
    revealed = re.findall(r'Revealed type is "(.*)"', output.replace("builtins.", ""))
    assert revealed == REVEALED, output


MISUSE = """
from typing import Any

import aboto3


async def misuse(aio: aboto3.AIOClient[Any], body: aboto3.AIOStreamingBody) -> None:
    await aio.get_waiter("bucket_exists")
    body.read()
    for chunk in body:
        pass
"""


def test_misuse_is_caught(tmp_path: Path) -> None:
    (tmp_path / "misuse.py").write_text(textwrap.dedent(MISUSE))
    output, status = run_mypy(tmp_path, "--strict")
    assert status == 1
    assert 'Incompatible types in "await" (actual type "AIOWaiter"' in output, output
    assert "must be used" in output, output  # the un-awaited read
    assert '"AIOStreamingBody" has no attribute "__iter__"' in output, output


# What the extension has only when built with libcurl (native_module.cpp).
NATIVE_ONLY = {
    "Transfer",
    "HttpSession",
    "shutdown_curl_engine",
    "curl_in_flight",
    "curl_wakes",
    "wake_io_thread",
    "set_max_wake_deferral",
    "set_stream_buffer_budget",
    "stream_buffered",
}


def test_extension_stubs_match_the_extension() -> None:
    """``_core.pyi`` names exactly what the C++ extension exposes."""
    import ast
    from pathlib import Path

    import aboto3
    from aboto3 import _core

    stub = ast.parse((Path(aboto3.__file__).parent / "_core.pyi").read_text())
    declared: dict[str, set[str]] = {}
    for node in stub.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = {
                item.name for item in node.body if isinstance(item, ast.FunctionDef)
            } - {"__init__"}
        elif isinstance(node, ast.FunctionDef):
            declared[node.name] = set()
    exposed = {name for name in dir(_core) if not name.startswith("_")}
    if not _core.build_features()["native_io"]:  # built without libcurl
        declared = {k: v for k, v in declared.items() if k not in NATIVE_ONLY}
    assert set(declared) == exposed
    for name, members in declared.items():
        if members:
            public = {m for m in dir(getattr(_core, name)) if not m.startswith("_")}
            assert members == public, name
