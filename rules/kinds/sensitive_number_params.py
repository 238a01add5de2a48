"""Parameters of the `sensitive_number` rule kind: defaults, validation (ParamError list) and the parsed form."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.cards import DEFAULT_CONTEXT, PAN_MAX_DIGITS
from rules.findings import Severity
from rules.model import ParamError

DETECTORS = ("pan", "possible_pan", "cvv", "expiry", "ssn")
OUTCOMES = ("pan_detected", "possible_pan", "cvv_detected", "expiry_detected", "ssn_detected")
SPEAKERS = ("agent", "customer", "unknown")

_DEFAULTS: dict[str, Any] = {
    "detectors": list(DETECTORS),
    "min_pan_digits": 13,
    "max_pan_digits": 19,
    "possible_min_digits": 12,
    "possible_requires_context": True,
    "continuation_gap_seconds": 4.0,
    "context_window_seconds": 60.0,
    "prompt_window_seconds": 30.0,
    "max_fillers": 6,
    "speakers": list(SPEAKERS),
    "failing_outcomes": ["pan_detected", "cvv_detected", "ssn_detected"],
    "severities": {},
    "context": {},
}


@dataclass(frozen=True, slots=True)
class SensitiveNumberParams:
    """Validated parameters (see `check_params` for meanings and limits)."""

    detectors: frozenset[str]
    min_pan_digits: int
    max_pan_digits: int
    possible_min_digits: int
    possible_requires_context: bool
    continuation_gap_seconds: float
    context_window_seconds: float
    prompt_window_seconds: float
    max_fillers: int
    speakers: frozenset[str]
    failing_outcomes: frozenset[str]
    severities: Mapping[str, Severity]
    context: Mapping[str, tuple[str, ...]]


def _check_int(params: Mapping[str, Any], key: str, low: int, high: int) -> list[ParamError]:
    value = params.get(key, _DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [ParamError(key, f"must be an integer from {low} to {high}, got {value!r}")]
    return []


def _check_seconds(params: Mapping[str, Any], key: str) -> list[ParamError]:
    value = params.get(key, _DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        return [ParamError(key, f"must be a number of seconds in (0, 3600], got {value!r}")]
    return []


def _check_choices(params: Mapping[str, Any], key: str, choices: Sequence[str]) -> list[ParamError]:
    value = params.get(key, _DEFAULTS[key])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [ParamError(key, f"must be a list of strings from {list(choices)}, got {value!r}")]
    return [ParamError(f"{key}[{i}]", f"unknown value {v!r}; choose from {list(choices)}")
            for i, v in enumerate(value) if v not in choices]


def _check_severities(params: Mapping[str, Any]) -> list[ParamError]:
    value = params.get("severities", {})
    if not isinstance(value, Mapping):
        return [ParamError("severities", f"must map outcome → severity, got {value!r}")]
    errors = []
    for outcome, severity in value.items():
        if outcome not in OUTCOMES:
            errors.append(ParamError(f"severities.{outcome}", f"unknown outcome; choose from {list(OUTCOMES)}"))
        elif severity not in {s.value for s in Severity}:
            errors.append(ParamError(f"severities.{outcome}", f"unknown severity {severity!r}; use one of "
                                     f"{[s.value for s in Severity]}"))
    return errors


def _check_context(params: Mapping[str, Any]) -> list[ParamError]:
    value = params.get("context", {})
    if not isinstance(value, Mapping):
        return [ParamError("context", "must map kind (payment|cvv|expiry|ssn) → {language: [phrases]}")]
    errors = []
    for kind, by_lang in value.items():
        if kind not in DEFAULT_CONTEXT:
            errors.append(ParamError(f"context.{kind}", f"unknown context kind; choose from {list(DEFAULT_CONTEXT)}"))
        elif not isinstance(by_lang, Mapping) or not all(
            isinstance(p, list) and all(isinstance(s, str) and s.strip() for s in p) for p in by_lang.values()
        ):
            errors.append(ParamError(f"context.{kind}", "must map language → list of non-empty phrases"))
    return errors


def check_params(params: Mapping[str, Any]) -> list[ParamError]:
    """Every problem with `params` (unknown keys included); empty when they are usable."""
    errors = [ParamError(k, f"unknown parameter; known: {sorted(_DEFAULTS)}") for k in params if k not in _DEFAULTS]
    errors += _check_choices(params, "detectors", DETECTORS)
    errors += _check_choices(params, "speakers", SPEAKERS)
    errors += _check_choices(params, "failing_outcomes", OUTCOMES)
    errors += _check_int(params, "min_pan_digits", 12, PAN_MAX_DIGITS)
    errors += _check_int(params, "max_pan_digits", 12, PAN_MAX_DIGITS)
    errors += _check_int(params, "possible_min_digits", 6, 40)
    errors += _check_int(params, "max_fillers", 0, 10)
    for key in ("continuation_gap_seconds", "context_window_seconds", "prompt_window_seconds"):
        errors += _check_seconds(params, key)
    if not isinstance(params.get("possible_requires_context", True), bool):
        errors.append(ParamError("possible_requires_context", "must be true or false"))
    low, high = params.get("min_pan_digits", 13), params.get("max_pan_digits", 19)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        errors.append(ParamError("min_pan_digits", f"must not exceed max_pan_digits ({low} > {high})"))
    return errors + _check_severities(params) + _check_context(params)


_PARSED: dict[tuple[int, str], tuple[Mapping[str, Any], Mapping[str, Any], SensitiveNumberParams]] = {}
"""Recently parsed params by (id of the params mapping, language): (that mapping, a deep copy, result)."""
_PARSED_MAX = 256


def parse_params(params: Mapping[str, Any], lang: str) -> SensitiveNumberParams:
    """The parsed parameters; raises ValueError listing every problem when they are invalid.

    Memoized (bounded) for the same params mapping while its content is unchanged: every call builds fresh rules.
    """
    key = (id(params), lang)
    known = _PARSED.get(key)
    if known is not None and known[0] is params and known[1] == params:
        return known[2]
    parsed = _parse_params(params, lang)
    if len(_PARSED) >= _PARSED_MAX:
        del _PARSED[next(iter(_PARSED))]
    _PARSED[key] = (params, copy.deepcopy(dict(params)), parsed)
    return parsed


def _parse_params(params: Mapping[str, Any], lang: str) -> SensitiveNumberParams:
    errors = check_params(params)
    if errors:
        raise ValueError("invalid sensitive_number params: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
    merged = {**_DEFAULTS, **params}
    key = lang.lower().split("-")[0]
    context: dict[str, tuple[str, ...]] = {}
    for kind, by_lang in DEFAULT_CONTEXT.items():
        extra = merged["context"].get(kind, {})
        context[kind] = tuple(by_lang.get(key, by_lang["en"])) + tuple(extra.get(key, ()))
    return SensitiveNumberParams(
        detectors=frozenset(merged["detectors"]),
        min_pan_digits=merged["min_pan_digits"],
        max_pan_digits=merged["max_pan_digits"],
        possible_min_digits=merged["possible_min_digits"],
        possible_requires_context=merged["possible_requires_context"],
        continuation_gap_seconds=float(merged["continuation_gap_seconds"]),
        context_window_seconds=float(merged["context_window_seconds"]),
        prompt_window_seconds=float(merged["prompt_window_seconds"]),
        max_fillers=merged["max_fillers"],
        speakers=frozenset(merged["speakers"]),
        failing_outcomes=frozenset(merged["failing_outcomes"]),
        severities={k: Severity(v) for k, v in merged["severities"].items()},
        context=context,
    )
