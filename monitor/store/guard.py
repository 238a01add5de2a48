"""The storage's last line of defence against card numbers: masks long written digit runs before anything is written.

Callers hand the store already-redacted text (rules/redact.py does the real work, including spoken digits).
This guard only catches what slipped through in *written* form: a run of 13 or more digits, optionally
separated by single spaces or dashes, standing on its own (not glued to letters, so hexadecimal ids are not
touched). Every digit of such a run becomes "#"; the separators stay.

Where it applies: transcript text, finding evidence/reason/phrase, consent texts, metadata values, every string
inside JSON columns except identifiers (values under "id", "*_id" and "*_ids" keys: opaque keys, never spoken
text — a finding id, a sha256 prefix, can be all digits), and
integers of 13 or more digits inside JSON (replaced by a masked string). Known cost: a phone number written with
13+ digits in call metadata is masked too — the store prefers losing a caller number to keeping a card number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MIN_DIGITS = 13
"""The shortest card number (PAN) length; runs this long or longer are masked."""

_DIGIT_RUN = re.compile(rf"(?<![0-9A-Za-z])\d(?:[ \-]?\d){{{MIN_DIGITS - 1},}}(?![0-9A-Za-z])")
_BIG_INT = 10 ** (MIN_DIGITS - 1)


@dataclass(slots=True)
class DigitGuard:
    """Masks long written digit runs; counts how often it had to (a non-zero count means a redaction gap upstream)."""

    hits: int = 0
    _fields: list[str] = field(default_factory=list)

    def text(self, value: str, where: str) -> str:
        """`value` with every digit of every run of ≥ 13 written digits replaced by "#"."""
        masked, count = _DIGIT_RUN.subn(_mask_match, value)
        if count:
            self.hits += count
            self._fields.append(where)
        return masked

    def json_value(self, value: Any, where: str) -> Any:
        """A copy of a JSON-ready value with strings masked (except under "*_id" keys) and huge integers masked."""
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            if abs(value) >= _BIG_INT:
                self.hits += 1
                self._fields.append(where)
                return "#" * len(str(abs(value)))
            return value
        if isinstance(value, Mapping):
            return {
                str(k): v if _is_identifier(str(k), v) else self.json_value(v, f"{where}.{k}") for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.json_value(v, f"{where}[]") for v in value]
        return self.text(str(value), where)

    def drain_fields(self) -> list[str]:
        """The field paths masked since the last call (for one log line naming where, never what)."""
        fields, self._fields = self._fields, []
        return fields


def _is_identifier(key: str, value: Any) -> bool:
    """True for an identifier field: key "id", "*_id" with a string, or "*_ids" with a list of strings."""
    if key == "id" or key.endswith("_id"):
        return isinstance(value, str)
    if key.endswith("_ids"):
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    return False


def _mask_match(match: re.Match[str]) -> str:
    return re.sub(r"\d", "#", match.group(0))


def has_long_digit_run(value: str) -> bool:
    """True when `value` holds a run of ≥ 13 written digits the guard would mask."""
    return _DIGIT_RUN.search(value) is not None
