"""Card and identity numbers: Luhn, card brands (IIN ranges), PAN search in digit runs, CVV, expiry dates, US SSNs.

PAN policy: a window of 13–19 digits that passes Luhn is a PAN whatever its prefix (a conservative choice:
an unknown issuer is still card data); the brand, when known, is reported. A run of ≥ 12 digits in a payment
context that holds no PAN is a *possible* PAN. Windows are only taken at the run's start/end and at the
boundaries of filler-separated segments, so "…card digits… and the expiry oh four two seven" still finds the
card while random long digit strings do not yield arbitrary Luhn-valid substrings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19

# (brand, prefix ranges as (low, high) inclusive on a prefix of the same length, valid lengths, usual length)
_BRANDS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[int, ...], int], ...] = (
    ("amex", (("34", "34"), ("37", "37")), (15,), 15),
    ("diners", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), (14, 15, 16, 17, 18, 19), 14),
    ("jcb", (("3528", "3589"),), (16, 17, 18, 19), 16),
    ("visa", (("4", "4"),), (13, 16, 19), 16),
    ("mastercard", (("51", "55"), ("2221", "2720")), (16,), 16),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65")), (16, 17, 18, 19), 16),  # 622126-622925: unionpay
    ("unionpay", (("62", "62"), ("81", "81")), (16, 17, 18, 19), 16),
    (
        "maestro",
        (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"), ("6304", "6304"),
         ("6759", "6759"), ("6761", "6763"), ("50", "50"), ("56", "58"), ("63", "63"), ("67", "67")),
        tuple(range(12, 20)),
        16,
    ),
)


def luhn_valid(digits: str) -> bool:
    """True when `digits` (only 0-9, at least 2) passes the Luhn checksum."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card brand whose IIN range `digits` starts with ("visa", "mastercard", "amex", …), or None."""
    for brand, ranges, _lengths, _usual in _BRANDS:
        for low, high in ranges:
            prefix = digits[: len(low)]
            if len(prefix) == len(low) and low <= prefix <= high:
                return brand
    return None


def usual_length(brand: str | None) -> int:
    """The most common PAN length of `brand` (16 when unknown): an open run of this length is complete."""
    for name, _ranges, _lengths, usual in _BRANDS:
        if name == brand:
            return usual
    return 16


def brand_lengths(brand: str | None) -> tuple[int, ...]:
    """The PAN lengths `brand` issues (13–19 when unknown)."""
    for name, _ranges, lengths, _usual in _BRANDS:
        if name == brand:
            return lengths
    return tuple(range(PAN_MIN_DIGITS, PAN_MAX_DIGITS + 1))


@dataclass(frozen=True, slots=True)
class PanMatch:
    """A Luhn-valid PAN found at digits[start:end] of a run. Never log `digits`; use `last4`/`masked`."""

    digits: str
    start: int
    end: int
    brand: str | None

    @property
    def last4(self) -> str:
        """The last four digits (displayable under PCI DSS truncation rules)."""
        return self.digits[-4:]

    @property
    def masked(self) -> str:
        """A display form keeping only the last four digits: "[card ••••1111]"."""
        return f"[card ••••{self.last4}]"

    @property
    def brand_length_ok(self) -> bool:
        """True when the length is one the brand issues."""
        return len(self.digits) in brand_lengths(self.brand)

    def describe(self) -> str:
        """A digit-free description such as "16 digits, Luhn valid, visa prefix"."""
        brand = f"{self.brand} prefix" if self.brand else "no known brand prefix"
        return f"{len(self.digits)} digits, Luhn valid, {brand}"


def candidate_windows(
    length: int, boundaries: Sequence[int], min_len: int = PAN_MIN_DIGITS, max_len: int = PAN_MAX_DIGITS
) -> list[tuple[int, int]]:
    """(start, end) windows of min_len..max_len digits whose ends lie on run/segment boundaries, longest first.

    Also every prefix window (a card followed by more digits without a filler, "…4444 oh four two seven").
    """
    points = sorted({0, length, *(b for b in boundaries if 0 < b < length)})
    windows = {(a, b) for a in points for b in points if min_len <= b - a <= max_len}
    windows.update((0, size) for size in range(min_len, min(max_len, length) + 1))
    return sorted(windows, key=lambda w: (-(w[1] - w[0]), w[0]))


def _window_ok(window: str, whole: bool, brand: str | None, prefix_only: bool, open_end: bool, max_len: int) -> bool:
    """Whether a Luhn-valid window counts as a PAN.

    The whole run counts at any length; a sub-window only with a known brand and a length that brand issues
    (a prefix window not on a segment boundary: only the brand's usual length), so a Luhn-failing 16-digit
    number never yields a "13-digit Visa" from its first 13 digits. An open run (it may still grow) is
    judged only at the brand's usual length or the maximum.
    """
    if open_end and len(window) not in (usual_length(brand), max_len):
        return False
    if whole:
        return True
    if brand is None or len(window) not in brand_lengths(brand):
        return False
    return not prefix_only or len(window) == usual_length(brand)


def find_pan(
    digits: str,
    boundaries: Sequence[int] = (),
    *,
    open_end: bool = False,
    min_len: int = PAN_MIN_DIGITS,
    max_len: int = PAN_MAX_DIGITS,
) -> PanMatch | None:
    """The PAN inside a digit run, or None (see `_window_ok` for which windows count).

    With `open_end` (the run may still grow), only windows ending at the run's end count: "4111 1111 1111 1"
    is not yet judged as a 13-digit Visa.
    """
    if len(digits) < min_len:
        return None
    points = {0, len(digits), *boundaries}
    best: PanMatch | None = None
    for start, end in candidate_windows(len(digits), boundaries, min_len, max_len):
        if open_end and end != len(digits):
            continue
        window = digits[start:end]
        if not luhn_valid(window):
            continue
        brand = card_brand(window)
        whole = start == 0 and end == len(digits)
        if not _window_ok(window, whole, brand, end not in points, open_end, max_len):
            continue
        match = PanMatch(window, start, end, brand)
        if best is None or (match.brand_length_ok and not best.brand_length_ok):
            best = match
        if best.brand_length_ok:
            break
    return best


# --- CVV, expiry, SSN ---------------------------------------------------------------------------------------

MONTHS: dict[str, dict[str, int]] = {
    "en": {m: i + 1 for i, m in enumerate((
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december"))},
    "it": {m: i + 1 for i, m in enumerate((
        "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
        "novembre", "dicembre"))},
}


def is_cvv(digits: str) -> bool:
    """True for 3 or 4 digits (CVV2/CVC2 are 3, Amex CID is 4)."""
    return digits.isdigit() and len(digits) in (3, 4)


def parse_expiry(digits: str) -> tuple[int, int] | None:
    """(month, two-digit year) of an expiry spoken as MMYY, MYY, MMYYYY ("0427", "427", "042027"), else None."""
    if not digits.isdigit():
        return None
    if len(digits) == 6 and digits[2:4] == "20":
        digits = digits[:2] + digits[4:]
    if len(digits) == 3:
        digits = "0" + digits
    if len(digits) != 4:
        return None
    month, year = int(digits[:2]), int(digits[2:])
    return (month, year) if 1 <= month <= 12 else None


def expiry_year(digits: str) -> int | None:
    """The two-digit year of a year spoken after a month name ("27", "2027"), else None."""
    if digits.isdigit() and len(digits) == 2:
        return int(digits)
    if digits.isdigit() and len(digits) == 4 and digits.startswith("20"):
        return int(digits[2:])
    return None


def ssn_valid(digits: str) -> bool:
    """True for 9 digits shaped like a US SSN: area not 000/666/9xx, group not 00, serial not 0000."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


# --- context phrases ---------------------------------------------------------------------------------------

DEFAULT_CONTEXT: dict[str, dict[str, tuple[str, ...]]] = {
    "payment": {
        "en": ("card", "credit", "debit", "visa", "mastercard", "amex", "american express", "discover",
               "long number", "account number", "payment", "pay", "billing"),
        "it": ("carta", "credito", "debito", "bancomat", "visa", "mastercard", "american express",
               "numero della carta", "pagamento", "pagare", "addebito"),
    },
    "cvv": {
        "en": ("security code", "security number", "cvv", "cvc", "cvv2", "cid", "card verification",
               "verification code", "verification number", "three digits", "three digit", "four digits on the front",
               "digits on the back", "back of the card", "code on the back"),
        "it": ("codice di sicurezza", "cvv", "cvc", "codice cvv", "tre cifre", "retro della carta",
               "codice di verifica", "codice sul retro"),
    },
    "expiry": {
        "en": ("expiry", "expiration", "expires", "expire", "exp date", "valid thru", "valid through",
               "valid until", "end date", "month and year"),
        "it": ("scadenza", "scade", "data di scadenza", "valida fino", "valida fino al"),
    },
    "ssn": {
        "en": ("social security", "ssn", "social", "social security number", "tax id", "tin"),
        "it": ("codice fiscale",),
    },
}


@lru_cache(maxsize=256)
def _phrases_by_first_token(phrases: tuple[str, ...]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The phrases as token tuples, grouped by their first token (so a scan looks up each token once)."""
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for phrase in phrases:
        parts = tuple(phrase.lower().split())
        if parts:
            grouped.setdefault(parts[0], []).append(parts)
    return {first: tuple(group) for first, group in grouped.items()}


def phrase_ends(tokens: Sequence[tuple[str, int]], phrases: Sequence[str]) -> list[int]:
    """Word indices where one of `phrases` ends, for (token, word index) pairs; matching is token-exact."""
    by_first = _phrases_by_first_token(tuple(phrases))
    texts = tuple(t for t, _ in tokens)
    ends: set[int] = set()
    for i, text in enumerate(texts):
        for parts in by_first.get(text, ()):
            if texts[i : i + len(parts)] == parts:
                ends.add(tokens[i + len(parts) - 1][1])
    return sorted(ends)
