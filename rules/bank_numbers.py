"""Bank account numbers in speech: IBANs (ISO 13616) and US ABA routing numbers with account numbers in context.

An IBAN is read as letters and digits: "G B eight two W E S T one two …", letters also as their names ("double
you", "zed"), the NATO / Italian spelling alphabets ("golf", "Genova"), "G as in golf" / "G come Genova"; digits as
rules.spoken_numbers parses them (pairs, "double", "oh", fillers). The letters and digits of consecutive words
form a stream; an IBAN is a registry country code, two check digits and the country's registry length of
characters passing the mod-97 check (ISO 7064 MOD 97-10). A routing number is 9 digits passing the ABA checksum,
said in a routing context ("routing", "ABA", "transit"); an account number is a 4-17 digit run after "account"
in the same text as a routing number or a bank-account context ("checking", "savings", "bank account", …).
Pure: no I/O; used by rules.redact (masking) and rules.kinds.bank_number (findings).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rules.spoken_numbers import DigitRun, parse_tokens, tokenize

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
"""Country code → IBAN length, from the SWIFT IBAN Registry (ISO 13616)."""
IBAN_MIN_DIGITS = 10
"""Fewer digits than this in a text: no IBAN in it (the registry's fewest are 16: BH, QA); skips the letter scan."""

_LETTER_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "bee": "B", "be": "B", "cee": "C", "see": "C", "sea": "C", "dee": "D", "ee": "E", "ef": "F", "eff": "F",
        "gee": "G", "aitch": "H", "haitch": "H", "eye": "I", "jay": "J", "kay": "K", "el": "L", "ell": "L",
        "em": "M", "en": "N", "pee": "P", "cue": "Q", "queue": "Q", "ar": "R", "are": "R", "ess": "S", "tee": "T",
        "tea": "T", "you": "U", "vee": "V", "ex": "X", "why": "Y", "wye": "Y", "zed": "Z", "zee": "Z",
        "alpha": "A", "alfa": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E", "foxtrot": "F",
        "golf": "G", "hotel": "H", "india": "I", "juliet": "J", "juliett": "J", "kilo": "K", "lima": "L",
        "mike": "M", "november": "N", "oscar": "O", "papa": "P", "quebec": "Q", "romeo": "R", "sierra": "S",
        "tango": "T", "uniform": "U", "victor": "V", "whiskey": "W", "whisky": "W", "xray": "X", "yankee": "Y",
        "zulu": "Z",
    },
    "it": {
        "bi": "B", "ci": "C", "di": "D", "effe": "F", "gi": "G", "acca": "H", "elle": "L", "emme": "M",
        "enne": "N", "pi": "P", "cu": "Q", "erre": "R", "esse": "S", "ti": "T", "vu": "V", "vi": "V", "ics": "X",
        "ipsilon": "Y", "zeta": "Z", "cappa": "K", "kappa": "K", "ancona": "A", "bologna": "B", "como": "C",
        "domodossola": "D", "empoli": "E", "firenze": "F", "genova": "G", "hotel": "H", "imola": "I",
        "jolly": "J", "livorno": "L", "milano": "M", "napoli": "N", "otranto": "O", "palermo": "P",
        "quarto": "Q", "roma": "R", "savona": "S", "torino": "T", "udine": "U", "venezia": "V",
        "washington": "W", "xeres": "X", "yacht": "Y", "yogurt": "Y", "zara": "Z",
    },
}
_TWO_WORD_LETTERS: dict[tuple[str, str], str] = {
    ("double", "you"): "W", ("double", "u"): "W", ("x", "ray"): "X", ("doppia", "vu"): "W", ("doppio", "vu"): "W",
    ("i", "lunga"): "J", ("i", "greca"): "Y",
}
_SPELLING_LINKS = {"en": (("as", "in"), ("for",)), "it": (("come",), ("di",))}
"""Words between a letter and the word that spells it: "G as in golf", "G come Genova"."""
_SKIPPED = frozenset({"space", "dash", "hyphen", "then", "uh", "um", "er", "erm", "ehm", "eh", "spazio", "trattino"})
ROUTING_CONTEXT = frozenset({"routing", "aba", "transit", "rtn", "wire"})
ACCOUNT_WORDS = frozenset({"account", "acct", "conto"})
BANK_CONTEXT = frozenset({"routing", "aba", "checking", "savings", "bank", "deposit", "ach", "wire", "transit"})
ROUTING_PREFIXES = frozenset({*range(0, 13), *range(21, 33), *range(61, 73), 80})
"""Valid first two digits of an ABA routing number (Federal Reserve district, thrift, electronic, traveler's)."""


@dataclass(frozen=True, slots=True)
class BankNumber:
    """A bank number found in words: its kind ("iban", "routing", "account"), value and the words it spans."""

    kind: str
    value: str
    first_word: int
    last_word: int

    @property
    def words(self) -> range:
        """Indices of every word the number spans."""
        return range(self.first_word, self.last_word + 1)

    @property
    def masked(self) -> str:
        """The label that replaces it in redacted text: kind and last four characters only."""
        return f"[{self.kind} ••••{self.value[-4:]}]"


def iban_valid(text: str) -> bool:
    """True when `text` (compact, uppercase) is an IBAN: registry country and length, mod-97 remainder 1."""
    if len(text) < 5 or IBAN_LENGTHS.get(text[:2]) != len(text) or not text[2:4].isdigit() or not text.isalnum():
        return False
    if not text.isascii():
        return False
    rearranged = text[4:] + text[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def aba_valid(digits: str) -> bool:
    """True when `digits` is an ABA routing number: 9 digits, a valid prefix, 3-7-1 weighted sum divisible by 10."""
    if len(digits) != 9 or not digits.isdigit() or int(digits[:2]) not in ROUTING_PREFIXES:
        return False
    weights = (3, 7, 1) * 3
    return sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 10 == 0


@dataclass(frozen=True, slots=True)
class _Atom:
    chars: str
    first_word: int
    last_word: int
    letter_o: bool = False
    """A digit run whose first word is "o"/"oh" right after a letter: that zero may be the letter O ("D O 2 8")."""


@dataclass(frozen=True, slots=True)
class BankScan:
    """What one scan of some words found: the bank numbers (word order) and the words of IBAN look-alikes that
    are no valid IBAN (see `possible_iban_words`)."""

    numbers: tuple[BankNumber, ...]
    possible_iban: frozenset[int]


NOTHING = BankScan((), frozenset())
POSSIBLE_IBAN_CHARS = 8
"""A country code, two digits and more, this long, that is no valid IBAN: masked anyway (a part of one read in two
breaths, or misheard); shorter at the open end of a partial transcript (an IBAN still being read)."""
OPEN_POSSIBLE_IBAN_CHARS = 5


def scan_bank_numbers(
    words: Sequence[str], lang: str = "en", runs: Sequence[DigitRun] | None = None, *, partial: bool = False
) -> BankScan:
    """Bank numbers and IBAN look-alikes in `words` (see the module docstring); `runs`: the words' digit runs
    when the caller parsed them already. Cheap when there are none: a text with fewer than 2 digits, or with no
    letter pair that is a registry country code and no routing or account word, is not scanned further."""
    key = lang.lower().split("-")[0]
    key = key if key in ("en", "it") else "en"
    if runs is None:
        runs = parse_tokens(tokenize(words), key)
    digits = sum(len(run.digits) for run in runs)
    if digits < 2:  # an IBAN's check digits at least (a partial may hold only its start)
        return NOTHING
    lowered = [w.lower().strip(".,;:!?") for w in words]
    numbers: list[BankNumber] = []
    possible: set[int] = set()
    if _country_code_spelled(lowered, key):
        segments = _segments(lowered, _letter_split_runs(words, lowered, key), key)
        if digits >= IBAN_MIN_DIGITS:
            numbers = [number for segment in segments for number in _best_ibans(segment)]
        taken = {i for number in numbers for i in number.words}
        possible = _possible_ibans(segments, len(words), partial) - taken
    if digits >= 4 and (not ROUTING_CONTEXT.isdisjoint(lowered) or not ACCOUNT_WORDS.isdisjoint(lowered)):
        taken = {i for number in numbers for i in number.words} | possible
        numbers.extend(_us_bank(lowered, runs, taken))
    return BankScan(tuple(sorted(numbers, key=lambda n: n.first_word)), frozenset(possible))


def find_bank_numbers(
    words: Sequence[str], lang: str = "en", runs: Sequence[DigitRun] | None = None
) -> list[BankNumber]:
    """Every IBAN, routing number and in-context account number spoken or written in `words` (lowercase or not),
    in word order."""
    return list(scan_bank_numbers(words, lang, runs).numbers)


def possible_iban_words(
    words: Sequence[str], lang: str = "en", runs: Sequence[DigitRun] | None = None, *, partial: bool = False
) -> set[int]:
    """Indices of the words of IBAN look-alikes that are not valid IBANs: a registry country code and two digits
    followed by more letters or digits (≥ POSSIBLE_IBAN_CHARS in all; in a `partial`, ≥ OPEN_POSSIBLE_IBAN_CHARS
    when it runs to the end). Redaction masks them: half an IBAN is still bank data."""
    return set(scan_bank_numbers(words, lang, runs, partial=partial).possible_iban)


def _letter_of(word: str, names: dict[str, str]) -> str | None:
    if len(word) == 1 and word.isascii() and word.isalpha():
        return word.upper()
    return names.get(word)


def _country_code_spelled(words: Sequence[str], lang: str) -> bool:
    """Whether two letters that make a registry country code are spoken within four words of each other: the
    cheap test before the letter-and-digit scan ("G B …", "golf bravo …", "G as in golf B as in bravo …")."""
    names = _LETTER_NAMES.get(lang, _LETTER_NAMES["en"])
    letters = [(i, letter) for i, w in enumerate(words) if (letter := _letter_of(w, names)) is not None]
    for (i, first), (j, second) in itertools.pairwise(letters):
        if j - i <= 4 and first + second in IBAN_LENGTHS:
            return True
    return any(pair in _TWO_WORD_LETTERS for pair in itertools.pairwise(words))


def _possible_ibans(segments: Sequence[list[_Atom]], word_count: int, partial: bool) -> set[int]:
    masked: set[int] = set()
    for segment in segments:
        text = "".join(atom.chars for atom in segment)
        owner = [index for index, atom in enumerate(segment) for _ in atom.chars]
        open_end = segment[-1].last_word == word_count - 1
        for position in range(len(text) - 3):
            if text[position:position + 2] not in IBAN_LENGTHS or not text[position + 2:position + 4].isdigit():
                continue
            rest = len(text) - position
            if rest >= POSSIBLE_IBAN_CHARS or (partial and open_end and rest >= OPEN_POSSIBLE_IBAN_CHARS):
                for atom in segment[owner[position]:]:
                    masked.update(range(atom.first_word, atom.last_word + 1))
                break
    return masked


def _letter_split_runs(words: Sequence[str], lowered: Sequence[str], lang: str) -> list[DigitRun]:
    """Digit runs parsed between single-letter words: "four nine a a one" is 49, A, A, 1 (for digit runs "a" is a
    filler). "o" stays a digit word (its letter reading is tried later)."""
    runs: list[DigitRun] = []
    start = 0
    for end in [*(i for i, w in enumerate(lowered) if len(w) == 1 and w.isalpha() and w != "o"), len(words)]:
        if end > start:
            for run in parse_tokens(tokenize(words[start:end]), lang if lang in ("en", "it") else "en"):
                runs.append(replace(
                    run, first_word=run.first_word + start, last_word=run.last_word + start,
                    number_words=tuple(i + start for i in run.number_words),
                ))
        start = end + 1
    return runs


_MAX_O_VARIANTS = 4
"""At most this many ambiguous "o" words per segment are tried both ways (2**4 readings)."""


def _best_ibans(segment: list[_Atom]) -> list[BankNumber]:
    """The IBANs of one segment under the reading (of its ambiguous "o" words) that finds the most."""
    best: list[BankNumber] = []
    for reading in _readings(segment):
        numbers = _ibans_in(reading)
        if len(numbers) > len(best):
            best = numbers
    return best


def _readings(segment: list[_Atom]) -> list[list[_Atom]]:
    """The segment as heard, then with each ambiguous leading "o" read as the letter O (all combinations)."""
    ambiguous = [i for i, atom in enumerate(segment) if atom.letter_o][:_MAX_O_VARIANTS]
    readings = [segment]
    for mask in range(1, 2 ** len(ambiguous)):
        reading = list(segment)
        for bit, index in enumerate(ambiguous):
            if mask >> bit & 1:
                atom = reading[index]
                reading[index] = _Atom("O" + atom.chars[1:], atom.first_word, atom.last_word)
        readings.append(reading)
    return readings


def _ibans_in(segment: list[_Atom]) -> list[BankNumber]:
    found: list[BankNumber] = []
    text = "".join(atom.chars for atom in segment)
    owner = [index for index, atom in enumerate(segment) for _ in atom.chars]
    position = 0
    while position + 4 <= len(text):
        length = IBAN_LENGTHS.get(text[position:position + 2])
        if length is not None and iban_valid(text[position:position + length]):
            first, last = segment[owner[position]], segment[owner[position + length - 1]]
            found.append(BankNumber("iban", text[position:position + length], first.first_word, last.last_word))
            position += length
        else:
            position += 1
    return found


def _segments(words: Sequence[str], runs: Sequence[DigitRun], lang: str) -> list[list[_Atom]]:
    """Consecutive letters and digit runs (skippable words between them) as atoms, split at any other word."""
    run_at = {run.first_word: run for run in runs}
    in_run = {i for run in runs for i in run.words}
    names = _LETTER_NAMES.get(lang, _LETTER_NAMES["en"])
    links = _SPELLING_LINKS.get(lang, _SPELLING_LINKS["en"])
    segments: list[list[_Atom]] = [[]]
    i = 0
    while i < len(words):
        word = words[i]
        run = run_at.get(i)
        pair = _TWO_WORD_LETTERS.get((word, words[i + 1])) if i + 1 < len(words) else None
        if run is not None:
            after_letter = bool(segments[-1]) and segments[-1][-1].chars.isalpha()
            letter_o = after_letter and word in ("o", "oh") and run.digits.startswith("0")
            segments[-1].append(_Atom(run.digits, run.first_word, run.last_word, letter_o))
            i = run.last_word + 1
            continue
        if i in in_run or word in _SKIPPED:
            i += 1
            continue
        if pair is not None:
            letter, end = pair, i + 1
        elif len(word) == 1 and word.isalpha() and word.isascii():
            letter, end = word.upper(), i
        elif word in names:
            letter, end = names[word], i
        else:
            if segments[-1]:
                segments.append([])
            i += 1
            continue
        end = _spelled_by(words, end, letter, links, names)
        segments[-1].append(_Atom(letter, i, end))
        i = end + 1
    return [segment for segment in segments if segment]


def _spelled_by(
    words: Sequence[str], end: int, letter: str, links: Sequence[tuple[str, ...]], names: dict[str, str]
) -> int:
    """The last word of "G as in golf" given the index of "G": `end` itself unless a spelling word follows."""
    for link in links:
        after = end + 1 + len(link)
        if tuple(words[end + 1:after]) == link and after < len(words):
            spelled = words[after]
            if names.get(spelled) == letter or (spelled[:1].upper() == letter and spelled not in names):
                return after
    return end


def _us_bank(words: Sequence[str], runs: Sequence[DigitRun], taken: set[int]) -> list[BankNumber]:
    found: list[BankNumber] = []
    routing_seen = False
    for run in runs:
        if any(i in taken for i in run.words):
            continue
        before = set(words[max(0, run.first_word - 8):run.first_word])
        if aba_valid(run.digits) and (before & ROUTING_CONTEXT or _near(words, run, ROUTING_CONTEXT)):
            found.append(BankNumber("routing", run.digits, run.first_word, run.last_word))
            routing_seen = True
            continue
        bank_context = routing_seen or bool(set(words) & BANK_CONTEXT)
        if 4 <= len(run.digits) <= 17 and before & ACCOUNT_WORDS and bank_context:
            found.append(BankNumber("account", run.digits, run.first_word, run.last_word))
    return found


def _near(words: Sequence[str], run: DigitRun, context: frozenset[str]) -> bool:
    """A context word within 4 words after the run ("… is the routing number")."""
    return bool(set(words[run.last_word + 1:run.last_word + 5]) & context)
