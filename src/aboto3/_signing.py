"""SigV4 signing in C++ for the requests botocore signs with ``v4`` and ``s3v4``.

botocore's signer costs about a third of the CPU of a small call: it derives
the signing key (four HMACs) on every call and walks the headers through
``email.message`` several times. :class:`FastSigV4Auth` and
:class:`FastS3SigV4Auth` subclass botocore's own ``SigV4Auth`` and
``S3SigV4Auth`` and replace the signature computation with
``aboto3._core.SigV4Signer``, and botocore's header edits with the same edits
made in one pass. The clock and the decision of how to sign the payload stay
botocore's, so the result is byte-identical to botocore's for whatever version
is installed (the safety net below checks it per process). A request the C++
signer does not recognise is signed by botocore itself.

They are registered in ``botocore.auth.AUTH_TYPE_MAPS`` and a client gets
them where botocore's final choice is ``v4``/``s3v4`` for ordinary (not
presigned) requests; ``v4a``, S3 Express, bearer, anonymous and presigning
keep botocore's signers. The final choice is taken where botocore builds the
signer (``RequestSigner.get_auth_instance``), after every ``choose-signer``
handler has answered: a handler registered after botocore's own would never
run, since botocore's answers for nearly every operation.
"""

from __future__ import annotations

import datetime
import time
from hashlib import sha256
from typing import Any, Callable

import botocore.auth
from botocore.auth import (
    EMPTY_SHA256_HASH,
    SIGV4_TIMESTAMP,
    UNSIGNED_PAYLOAD,
    S3SigV4Auth,
    SigV4Auth,
)
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError

from ._safety import SafetyNet


def _hashlib_sha256_hex(data: bytes) -> str:
    return sha256(data).hexdigest()


SigV4Signer: Any
_sha256_hex: Callable[[bytes], str]
try:
    from . import _core

    SigV4Signer = getattr(_core, "SigV4Signer", None)
    # hashlib's sha256 pays for OpenSSL's set-up on every call: more than
    # hashing a small body costs.
    _sha256_hex = getattr(_core, "sha256_hex", _hashlib_sha256_hex)
except ImportError:  # no _core, or one without the signer: botocore signs
    SigV4Signer = None
    _sha256_hex = _hashlib_sha256_hex


# What botocore's choice becomes for a client with the C++ signer.
FAST_SIGNATURE_VERSIONS = {"v4": "aboto3-v4", "s3v4": "aboto3-s3v4"}

# Set to 0 (or false/no/off) to keep botocore's signer for every client.
ENV_SWITCH = "ABOTO3_FAST_SIGNING"

_signer: Any = None  # one C++ signer (and key cache) per process


def _core_signer() -> Any:
    global _signer
    if _signer is None:
        _signer = SigV4Signer([name.lower() for name in botocore.auth.SIGNED_HEADERS_BLACKLIST])
    return _signer


_BOTOCORE_NOW = getattr(botocore.auth, "get_current_datetime", None)
_DATETIME = datetime.datetime


_stamp_of_second: tuple[int, str] = (-1, "")


def _timestamp_now() -> str:
    # The clock botocore's SigV4Auth.add_auth reads, in every version:
    # get_current_datetime in newer botocore, datetime.datetime.utcnow before.
    now = getattr(botocore.auth, "get_current_datetime", None)
    if now is _BOTOCORE_NOW and botocore.auth.datetime.datetime is _DATETIME:
        # Nobody replaced that clock: read the same system clock, formatted
        # once a second (time.time, which freezegun and the like patch too).
        global _stamp_of_second
        second = int(time.time())
        stamp = _stamp_of_second  # read once: other threads may replace it
        if stamp[0] != second:
            stamp = _stamp_of_second = (second, time.strftime(SIGV4_TIMESTAMP, time.gmtime(second)))
        return stamp[1]
    current = now() if now is not None else botocore.auth.datetime.datetime.utcnow()
    return str(current.strftime(SIGV4_TIMESTAMP))


class _CoreSigning:
    """The part of SigV4Auth.add_auth that runs in C++; mixed in before botocore's class."""

    NORMALIZE_PATH = True
    REPLACES_PAYLOAD_HASH = False  # S3SigV4Auth's edits also set X-Amz-Content-SHA256

    credentials: Any
    _region_name: str
    _service_name: str
    _modify_request_before_signing: Callable[[Any], None]
    _canonical_query_string_params: Callable[[Any], str]
    _should_sha256_sign_payload: Callable[[Any], bool]
    _is_streaming_checksum_payload: Callable[[Any], bool]

    def add_auth(self, request: Any) -> None:
        if self.credentials is None:
            raise NoCredentialsError()
        self.add_auth_at(request, _timestamp_now())

    def add_auth_at(self, request: Any, timestamp: str) -> None:
        """Sign as botocore's add_auth would at ``timestamp`` (YYYYMMDDTHHMMSSZ)."""
        request.context["timestamp"] = timestamp
        headers = request.headers
        params = request.params
        canonical_query = self._canonical_query_string_params(params) if params else None
        credentials = self.credentials
        if type(headers) is HTTPHeaders:
            # botocore's _modify_request_before_signing and the signature in
            # one C++ pass over the list behind HTTPHeaders.
            if self.REPLACES_PAYLOAD_HASH:  # S3: hashed with the headers as edited
                replaces_hash, payload = True, self.payload
            elif not request.context.get("payload_signing_enabled", True):
                replaces_hash, payload = True, UNSIGNED_PAYLOAD
            else:
                replaces_hash, payload = False, self.payload
            authorization = _core_signer().sign_fields(
                headers._headers,
                request.method,
                request.url,
                canonical_query,
                replaces_hash,
                payload,
                request,
                credentials.token,
                credentials.access_key,
                credentials.secret_key,
                timestamp,
                self._region_name,
                self._service_name,
                self.NORMALIZE_PATH,
            )
            if authorization is None:
                super().add_auth(request)  # type: ignore[misc]  # a shape the C++ signer leaves to botocore
            if authorization is not NotImplemented:
                return
        # A Date header (which botocore rewrites), or headers that are not
        # botocore's HTTPHeaders: botocore's own edits, then the C++ signature.
        self._modify_request_before_signing(request)
        # email.message's own list: items() would copy it through its policy.
        fields = getattr(headers, "_headers", None) or list(headers.items())
        payload_hash = headers.get("X-Amz-Content-SHA256")
        if payload_hash is None:
            payload_hash = self.payload(request)
        authorization = _core_signer().authorization(
            request.method,
            request.url,
            canonical_query,
            fields,
            payload_hash,
            credentials.access_key,
            credentials.secret_key,
            timestamp,
            self._region_name,
            self._service_name,
            self.NORMALIZE_PATH,
        )
        if authorization is None:
            super().add_auth(request)  # type: ignore[misc]
        else:
            headers["Authorization"] = authorization

    def payload(self, request: Any) -> str:
        # A bytes body is hashed as botocore would, without request.body
        # (which prepares a whole copy of the request to find the body).
        data = request.data
        if (
            type(data) is bytes
            and not (_CHECKS_STREAMING and self._is_streaming_checksum_payload(request))
            and self._should_sha256_sign_payload(request)
        ):
            return _sha256_hex(data) if data else EMPTY_SHA256_HASH
        return str(super().payload(request))  # type: ignore[misc]


# Whether this botocore can send a streaming body with a checksum trailer.
_CHECKS_STREAMING = hasattr(SigV4Auth, "_is_streaming_checksum_payload")


class FastSigV4Auth(_CoreSigning, SigV4Auth):  # type: ignore[misc]
    """botocore's ``v4`` signer with the signature computed in C++."""


class FastS3SigV4Auth(_CoreSigning, S3SigV4Auth):  # type: ignore[misc]
    """botocore's ``s3v4`` signer with the signature computed in C++."""

    NORMALIZE_PATH = False  # S3 signs the path as sent
    REPLACES_PAYLOAD_HASH = True


_FAST_CLASSES: dict[str, type[Any]] = {"v4": FastSigV4Auth, "s3v4": FastS3SigV4Auth}
_BOTOCORE_CLASSES: dict[str, type[Any]] = {"v4": SigV4Auth, "s3v4": S3SigV4Auth}


# ---- safety net ---------------------------------------------------------------


def _canned_requests() -> dict[str, tuple[AWSRequest, str, str]]:
    """One request per signature version, with what trips signers up."""
    json_call = AWSRequest(
        method="POST",
        url="https://ssm.eu-west-1.amazonaws.com/",
        data=b'{"Name": "/app/\xc3\xa9t\xc3\xa9", "WithDecryption": true}',
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonSSM.GetParameter",
            "User-Agent": "aboto3-check",
            "X-Amz-Meta-Spaced": "  a   b  ",
        },
    )
    s3_call = AWSRequest(
        method="PUT",
        url="https://bucket.s3.us-west-2.amazonaws.com/a%20key/%C3%A9~(1)?x-id=PutObject&b=2&a=",
        data=b"hello",
        headers={"Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==", "Expect": "100-continue"},
    )
    s3_call.context.update({"client_config": None, "has_streaming_input": True})
    return {"v4": (json_call, "ssm", "eu-west-1"), "s3v4": (s3_call, "s3", "us-west-2")}


def _compare() -> str:
    """Signs canned requests with botocore's signer and, at the timestamp
    botocore used, with the C++ one; they must agree on every header."""
    if SigV4Signer is None:
        return "this build of aboto3._core has no SigV4 signer"
    credentials = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLE", "t=")
    for version, (request, service, region) in _canned_requests().items():
        theirs = _copy(request)
        _BOTOCORE_CLASSES[version](credentials, service, region).add_auth(theirs)
        ours = _copy(request)
        _FAST_CLASSES[version](credentials, service, region).add_auth_at(
            ours, theirs.context["timestamp"]
        )
        if list(theirs.headers.items()) != list(ours.headers.items()):
            return f"its {version} signature differs from botocore's on a test request"
    return ""


def _copy(request: AWSRequest) -> AWSRequest:
    copy = AWSRequest(
        method=request.method, url=request.url, data=request.data, headers=dict(request.headers)
    )
    copy.context.update(request.context)
    return copy


safety_net = SafetyNet(
    ENV_SWITCH,
    _compare,
    trying="signing a test request",
    fallback="signs with botocore's SigV4 signer",
)


# ---- installing on a client ------------------------------------------------------


def use_fast_signing(client: Any, wanted: bool) -> bool:
    """Give ``client`` the C++ signer (or take it back); True if it now has it."""
    signer = getattr(client, "_request_signer", None)
    if signer is None or not hasattr(signer, "get_auth_instance"):
        return False
    installed = "get_auth_instance" in vars(signer)
    if wanted and safety_net.enabled_by_environment() and SigV4Signer is not None:
        reason = safety_net.check()
        if not reason:
            if not installed:
                signer.get_auth_instance = _choosing_fast_signers(signer.get_auth_instance)
            return True
        safety_net.warn_once(reason)
    if installed:
        del signer.get_auth_instance  # botocore's method again
    return False


def _choosing_fast_signers(get_auth_instance: Callable[..., Any]) -> Callable[..., Any]:
    # RequestSigner.sign passes the final signature version by keyword.
    def choose(*args: Any, **kwargs: Any) -> Any:
        fast = FAST_SIGNATURE_VERSIONS.get(kwargs.get("signature_version"))  # type: ignore[arg-type]
        if fast is not None:
            kwargs["signature_version"] = fast
        return get_auth_instance(*args, **kwargs)

    return choose


def _register() -> None:
    for version, cls in _FAST_CLASSES.items():
        botocore.auth.AUTH_TYPE_MAPS[FAST_SIGNATURE_VERSIONS[version]] = cls


_register()
