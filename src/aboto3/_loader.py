"""botocore's model files read by the C++ JSON reader, which lets the event loop run.

Creating the first client of a service loads its model: botocore's loader
reads each JSON file (``endpoints.json``, the service's ``service-2``,
``endpoint-rule-set-1``...) with ``json.loads(..., object_pairs_hook=OrderedDict)``,
one C call that holds the GIL for its whole length (EC2's model: 60-140 ms on
a 2-core machine). A client made on a worker thread then still stalls the
event loop for that long.

:class:`FastJSONFileLoader` is botocore's own ``JSONFileLoader`` with only
the parse replaced: ``aboto3._core.json_loads`` builds the same objects
(``OrderedDict`` for every JSON object, int or float as ``json`` chooses,
keys in file order) and every few milliseconds of work gives the GIL back
long enough for a waiting thread to take it. Where the reader declines a
document (nesting or an integer beyond what it vouches for) or finds it
malformed, ``json.loads`` reads it, so the result or error is botocore's.

It is installed as the ``file_loader`` of a botocore session's ``Loader``
(botocore's extension point: ``Loader(file_loader=...)``), for the sessions
aboto3 creates clients and resources from. A per-process check loads two
model files both ways and compares them type for type; on a difference the
loader stays botocore's and one warning is logged. ``ABOTO3_FAST_LOADING=0``
keeps botocore's loader everywhere.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import botocore.loaders
from botocore.loaders import JSONFileLoader

from ._safety import SafetyNet

json_loads: Callable[..., Any] | None
try:
    from . import _core

    json_loads = getattr(_core, "json_loads", None)
except ImportError:  # no _core: botocore's loader reads the files
    json_loads = None

# Set to 0 (or false/no/off) to keep botocore's file loader.
ENV_SWITCH = "ABOTO3_FAST_LOADING"


def read_json(payload: bytes) -> Any:
    """What botocore's ``JSONFileLoader`` makes of a file's bytes."""
    # Looked up at each call: what botocore itself uses now.
    mapping = botocore.loaders.OrderedDict
    if json_loads is not None:
        try:
            # share_gil: the GIL is given up for 0.1 ms every 3 ms of work.
            value = json_loads(payload, mapping, share_gil=True)
        except ValueError:
            value = NotImplemented  # malformed: json raises botocore's own error below
        if value is not NotImplemented:
            return value
    return botocore.loaders.json.loads(payload.decode("utf-8"), object_pairs_hook=mapping)


class FastJSONFileLoader(JSONFileLoader):  # type: ignore[misc]
    """botocore's ``JSONFileLoader``, each file parsed by :func:`read_json`.

    Finding the file and opening it (``.json``, or ``.json.gz`` where botocore
    reads those) stay botocore's; gzip's inflating releases the GIL as it goes.
    """

    def _load_file(self, full_path: str, open_method: Callable[..., Any]) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            payload = fp.read()
        botocore.loaders.logger.debug("Loading JSON file: %s", full_path)
        return read_json(payload)


# ---- safety net ---------------------------------------------------------------


def _same(ours: Any, theirs: Any) -> bool:
    """Equal, and of the same types throughout (OrderedDict, key order, int vs float)."""
    if type(ours) is not type(theirs):
        return False
    if isinstance(theirs, dict):
        return list(ours) == list(theirs) and all(_same(ours[k], v) for k, v in theirs.items())
    if isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(theirs, float):
        return bool(ours.hex() == theirs.hex())  # tells -0.0 from 0.0
    return bool(ours == theirs)


def _check_files() -> list[str]:
    """Two small model files (without extension) every botocore has: one with
    floats, and a service model (gzipped where botocore gzips them)."""
    data = botocore.loaders.Loader.BUILTIN_DATA_PATH
    sso = os.path.join(data, "sso")
    return [os.path.join(data, "_retry"), os.path.join(sso, max(os.listdir(sso)), "service-2")]


def _compare() -> str:
    """Reads two model files with botocore's file loader and with ours."""
    if json_loads is None:
        return "this build of aboto3._core has no JSON reader"
    if "_load_file" not in vars(JSONFileLoader):
        return "this botocore's JSONFileLoader has no _load_file to replace"
    for path in _check_files():
        theirs = JSONFileLoader().load_file(path)
        ours = FastJSONFileLoader().load_file(path)
        if theirs is None or not _same(ours, theirs):
            return f"it reads {os.path.basename(path)} differently from botocore"
    return ""


safety_net = SafetyNet(
    ENV_SWITCH,
    _compare,
    trying="loading a model file",
    fallback="reads model files with botocore's loader",
)


# ---- installing on a session ------------------------------------------------------


def use_fast_loading(session: Any) -> bool:
    """Give a boto3 (or botocore) session's model loader the fast file loader.

    True if it has it now. A loader whose file loader is not botocore's own
    ``JSONFileLoader`` (someone chose another) is left alone.
    """
    botocore_session = getattr(session, "_session", session)
    if not safety_net.enabled_by_environment() or json_loads is None:
        return False
    loader = botocore_session.get_component("data_loader")
    file_loader = getattr(loader, "file_loader", None)
    if type(file_loader) is FastJSONFileLoader:
        return True
    if type(file_loader) is not JSONFileLoader:
        return False
    reason = safety_net.check()
    if reason:
        safety_net.warn_once(reason)
        return False
    loader.file_loader = FastJSONFileLoader()
    return True
