"""Per-language word tables for spoken numbers (English and Italian): digits, teens, tens, scales, fillers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rules.spoken_numbers_it import IT_TEENS, IT_TENS, italian_word_value


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The words one language uses to speak numbers, and the words tolerated inside a spoken digit run.

    - `digits`: words that are always one digit ("four", "zero").
    - `soft_zeros`: "oh"/"o": zero only next to other number words (so "oh I see" is not a number).
    - `homophones`: ASR confusions ("for" → 4, "to" → 2): a digit only when directly between two digit words
      inside a run ("four one for one"), never at a run's edge ("waiting for").
    - `articles`: "a"/"an" meaning one, only right before a hundred/scale word ("a hundred").
    - `fillers`: words tolerated between number words of one run ("four one uh one one", "let me see").
    """

    lang: str
    digits: Mapping[str, str]
    soft_zeros: frozenset[str]
    homophones: Mapping[str, str]
    teens: Mapping[str, int]
    tens: Mapping[str, int]
    hundreds: frozenset[str]
    scales: Mapping[str, int]
    repeats: Mapping[str, int]
    articles: frozenset[str]
    conjunctions: frozenset[str]
    fillers: frozenset[str]
    ordinals: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    guarded_ordinals: frozenset[str] = frozenset()
    word_value: Callable[[str], int | None] | None = field(default=None)


_EN_DIGITS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_EN_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_EN_TENS_BASE = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
# Decade plurals ("the nineteen fifties") count as their tens value.
_EN_TENS = {**_EN_TENS_BASE, **{w[:-1] + "ies": v for w, v in _EN_TENS_BASE.items()}}


def _english_ordinals() -> dict[str, tuple[str, int]]:
    """Ordinal words (and plurals such as "fifths") → the cardinal atom (kind, value) they end a number with."""
    units = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
    teens = ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
             "eighteenth", "nineteenth")
    ordinals: dict[str, tuple[str, int]] = {w: ("unit", i + 1) for i, w in enumerate(units)}
    ordinals.update({w: ("teen", i + 10) for i, w in enumerate(teens)})
    ordinals.update({w[:-1] + "ieth": ("tens", v) for w, v in _EN_TENS_BASE.items()})
    ordinals.update({"hundredth": ("hundred", 100), "thousandth": ("scale", 1_000), "millionth": ("scale", 10**6)})
    ordinals.update({w + "s": atom for w, atom in list(ordinals.items()) if w not in ("first", "second")})
    return ordinals


ENGLISH = Lexicon(
    lang="en",
    digits=_EN_DIGITS,
    soft_zeros=frozenset({"oh", "o"}),
    homophones={"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"},
    teens=_EN_TEENS,
    tens=_EN_TENS,
    hundreds=frozenset({"hundred", "hundreds"}),
    scales={
        "thousand": 1_000, "thousands": 1_000, "million": 1_000_000, "millions": 1_000_000,
        "billion": 1_000_000_000, "billions": 1_000_000_000,
    },
    repeats={"double": 2, "triple": 3},
    articles=frozenset({"a", "an"}),
    conjunctions=frozenset({"and"}),
    fillers=frozenset({
        "uh", "uhh", "um", "umm", "uhm", "er", "erm", "ah", "eh", "hmm", "mm", "mhm",
        "sorry", "let", "me", "see", "and", "hold", "on", "wait", "a", "second", "sec", "moment",
        "okay", "ok", "so", "then", "yeah", "yes", "right", "like", "just", "it's", "its", "is",
        "that's", "i", "mean", "dash", "dot", "space", "comma", "next", "again", "um-hum",
    }),
    ordinals=_english_ordinals(),
    guarded_ordinals=frozenset({"first", "second"}),
)

_IT_DIGITS = {
    "zero": "0", "uno": "1", "due": "2", "tre": "3", "quattro": "4",
    "cinque": "5", "sei": "6", "sette": "7", "otto": "8", "nove": "9",
}

ITALIAN = Lexicon(
    lang="it",
    digits=_IT_DIGITS,
    soft_zeros=frozenset(),
    homophones={},
    teens=IT_TEENS,
    tens=IT_TENS,
    hundreds=frozenset({"cento"}),
    scales={"mille": 1_000, "mila": 1_000, "milione": 1_000_000, "milioni": 1_000_000},
    repeats={"doppio": 2, "doppia": 2, "triplo": 3, "tripla": 3},
    articles=frozenset(),
    conjunctions=frozenset({"e"}),
    fillers=frozenset({
        "ehm", "eh", "ah", "uhm", "mmm", "mm", "allora", "e", "ed", "poi", "cioè", "scusi", "scusa",
        "aspetti", "aspetta", "un", "attimo", "momento", "vediamo", "dunque", "ecco", "sì", "si",
        "trattino", "punto", "spazio", "virgola", "ok", "okay", "va", "bene", "quindi",
    }),
    word_value=italian_word_value,
)

LEXICONS: dict[str, Lexicon] = {"en": ENGLISH, "it": ITALIAN}


def lexicon_for(lang: str) -> Lexicon:
    """The lexicon of `lang` ("en", "it", or a tag like "en-US"); raises ValueError naming the supported ones."""
    key = lang.lower().replace("_", "-").split("-")[0]
    try:
        return LEXICONS[key]
    except KeyError:
        raise ValueError(
            f"no spoken-number lexicon for language {lang!r}; supported: {', '.join(sorted(LEXICONS))}"
        ) from None
