"""The safety net the signer, parsers, JSON writer and model loader share
(each one's own comparison with botocore is tested beside it)."""

from __future__ import annotations

import logging

import pytest

from aboto3 import _loader, _parsers, _serializers, _signing
from aboto3._safety import SafetyNet


def test_the_comparison_runs_once_and_a_failure_is_a_verdict() -> None:
    calls: list[int] = []

    def compare() -> str:
        calls.append(1)
        raise ValueError("no such shape")

    net = SafetyNet("ABOTO3_TEST_SWITCH", compare, trying="reading a test", fallback="reads slowly")
    assert net.check() == "reading a test failed: ValueError('no such shape')"
    assert net.check() == net.verdict
    assert len(calls) == 1


def test_one_warning_names_the_fallback_and_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    net = SafetyNet("ABOTO3_TEST_SWITCH", lambda: "", trying="reading", fallback="reads slowly")
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        net.warn_once("it differs")
        net.warn_once("it differs again")
    assert [r.getMessage() for r in caplog.records] == [
        "aboto3 reads slowly in this process: it differs"
    ]


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("1", True), ("yes", True), ("0", False), (" Off ", False), ("no", False)],
)
def test_the_environment_switch(monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool) -> None:
    nets = [m.safety_net for m in (_signing, _parsers, _serializers, _loader)]
    assert sorted(net.env_switch for net in nets) == [
        "ABOTO3_FAST_LOADING",
        "ABOTO3_FAST_PARSING",
        "ABOTO3_FAST_SERIALIZING",
        "ABOTO3_FAST_SIGNING",
    ]
    for net in nets:
        if value is None:
            monkeypatch.delenv(net.env_switch, raising=False)
        else:
            monkeypatch.setenv(net.env_switch, value)
        assert net.enabled_by_environment() is enabled
