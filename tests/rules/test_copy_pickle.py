"""Events, findings and outcomes survive copy, deepcopy and pickle, in pure Python and compiled by mypyc alike."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from rules.events import AudioTick, CallEnded, CallStarted, Speaker, Utterance, Word
from rules.findings import Finding, Severity
from rules.model import RuleOutcome

VALUES: list[Any] = [
    Word("four", 1.0, 1.25, 0.5),
    CallStarted("c1", 0.0, "it", {"agent": "a7"}),
    Utterance("c1", Speaker.CUSTOMER, 1, 3, "four one", (Word("four", 1.0, 1.2), Word("one", 1.2, 1.4)), 1.0, 1.4,
              True),
    AudioTick("c1", 2.5),
    CallEnded("c1", 9.0, "stream-closed"),
    Finding("c1", "pci.pan-spoken", "sensitive_number", "pan_detected", Severity.CRITICAL, 1.0, 4.0, "a card",
            evidence="[PAN ****1111]", speaker=Speaker.CUSTOMER, channel=1, finding_id="ab12", pack_id="pci",
            pack_version="1.0.0", details={"last4": "1111", "read_back": False}),
    RuleOutcome("pci.pan-spoken", False, "sensitive numbers spoken", ("ab12",)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trips(value: Any) -> None:
    for again in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert again == value and type(again) is type(value)
    deep = copy.deepcopy(value)
    if isinstance(value, Finding):
        assert deep.details is not value.details  # a deep copy, not a shared dict
