"""Classify a customer's answer to a consent question as yes / no / unclear (English and Italian lexicons).

Cues are matched longest-first on normalized tokens, left to right; the LAST clear cue wins ("yes… actually
no" → no). A yes-cue right after a negator ("not", "non", "never", "mai") counts as no ("non va bene").
Neutral cues ("not sure", "non lo so") only absorb words so they are not misread. "Bare" cues (plain yes/no)
flip when the question was asked negatively ("do you mind if we record?" — "no" means consent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from rules.matching import normalize_tokens


class Polarity(StrEnum):
    """The class of a consent answer."""

    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Cue:
    """A lexicon entry: its tokens, what it signals, and whether it flips for negatively asked questions."""

    tokens: tuple[str, ...]
    polarity: Polarity | None
    bare: bool = False


@dataclass(frozen=True, slots=True)
class AnswerVerdict:
    """The answer's class, the deciding cue's text ("" when unclear) and every clear cue seen in order."""

    polarity: Polarity
    deciding_cue: str
    cues: tuple[tuple[str, Polarity], ...]


NEGATORS = frozenset({"not", "non", "never", "mai", "nemmeno", "neanche"})

_EN_YES_BARE = ("yes", "yeah", "yep", "yup", "ya", "yes i do", "i do", "uh huh", "mhm", "mm hmm")
_EN_NO_BARE = (
    "no",
    "nope",
    "i do not",
    "nah",
    "not at all",
    "no no",
    "certainly not",
    "absolutely not",
    "of course not",
)
_EN_YES = (
    "sure",
    "of course",
    "okay",
    "alright",
    "all right",
    "fine",
    "that is fine",
    "that is okay",
    "go ahead",
    "no problem",
    "not a problem",
    "no worries",
    "no bother",
    "i do not mind",
    "do not mind",
    "i agree",
    "agreed",
    "i consent",
    "i accept",
    "absolutely",
    "certainly",
    "definitely",
    "please do",
    "by all means",
    "why not",
    "that works",
    "sounds good",
    "no objection",
    "no objections",
    "i have no objection",
    "i guess so",
    "i suppose so",
    "i suppose",
    "go for it",
    "perfect",
    "right",
    "good",
    "yes please",
    "works for me",
    "fine by me",
    "i am okay with that",
    "i am fine with that",
    "that is alright",
    "it is fine",
    "it is okay",
    "carry on",
    "go on",
    "go on then",
    "if you must",
    "do what you have to",
    "do what you need to",
    "do not worry",
    "do not worry about it",
    "i am good with that",
    "i am good with it",
    "you may",
    "you can",
    "feel free",
)
_EN_NO = (
    "i would rather not",
    "rather not",
    "i would prefer not",
    "prefer not",
    "please do not",
    "do not",
    "i do not consent",
    "i do not agree",
    "i object",
    "no thanks",
    "no thank you",
    "i refuse",
    "no way",
    "i do not want",
    "do not record",
    "stop recording",
    "please stop",
    "stop",
    "i am not okay",
    "not okay with that",
    "i would prefer you did not",
    "i would prefer that you did not",
    "i do mind",
    "i mind",
    "not comfortable",
    "i am not comfortable",
    "do not want to be recorded",
    "not really",
    "rather you not",
    "i am good",
    "i am alright thanks",
    "i would rather you did not",
    "you can not",
    "you may not",
    "i do not want this recorded",
    "i do not want to be recorded",
    "not happy",
    "i do not like that",
    "better not",
    "no i would not",
    "i would not",
    "i decline",
    "decline",
)
_EN_NEUTRAL = (
    "not sure",
    "i am not sure",
    "do not know",
    "i do not know",
    "no idea",
    "maybe",
    "what",
    "sorry",
    "pardon",
    "repeat",
    "why",
    "what for",
    "hang on",
    "wait",
    "hold on",
    "let me think",
    "i am not certain",
    "not certain",
    "no clue",
    "who knows",
    "it depends",
    "depends",
)
_IT_YES_BARE = ("si", "si si", "si certo", "certo", "certamente", "assolutamente si")
_IT_NO_BARE = ("no", "no no", "per niente", "assolutamente no", "certo che no", "affatto")
_IT_YES = (
    "va bene",
    "va benissimo",
    "ok",
    "okay",
    "d accordo",
    "sono d accordo",
    "nessun problema",
    "non c e problema",
    "non ci sono problemi",
    "non ho problemi",
    "accetto",
    "acconsento",
    "prego",
    "perfetto",
    "volentieri",
    "faccia pure",
    "fate pure",
    "proceda pure",
    "procediamo",
    "ovviamente",
    "per me va bene",
    "benissimo",
    "non mi dispiace",
    "non mi da fastidio",
    "nessuna obiezione",
    "esatto",
    "confermo",
    "come no",
    "senz altro",
    "tranquillo",
    "tranquilla",
    "vada pure",
    "registri pure",
    "registrate pure",
    "tranquillamente",
    "vai pure",
    "giusto",
)
_IT_NO = (
    "preferirei di no",
    "preferisco di no",
    "preferirei no",
    "meglio di no",
    "non voglio",
    "non voglio essere registrato",
    "non voglio essere registrata",
    "non acconsento",
    "non accetto",
    "non sono d accordo",
    "non mi va",
    "no grazie",
    "non registri",
    "non registrate",
    "rifiuto",
    "neanche per sogno",
    "nemmeno per sogno",
    "non do il consenso",
    "non le do il consenso",
    "mi oppongo",
    "non e il caso",
    "non mi sta bene",
    "non mi piace",
    "smetta di registrare",
    "interrompa la registrazione",
    "preferirei che non",
    "non lo voglio",
)
_IT_NEUTRAL = (
    "non so",
    "non lo so",
    "forse",
    "boh",
    "non saprei",
    "come",
    "scusi",
    "ripetere",
    "puo ripetere",
    "in che senso",
    "perche",
    "un attimo",
    "aspetti",
    "vediamo",
    "dipende",
    "non sono sicuro",
    "non sono sicura",
    "che cosa",
    "cosa",
)


def _cues(words: Iterable[str], polarity: Polarity | None, bare: bool = False) -> list[Cue]:
    return [Cue(normalize_tokens(w), polarity, bare) for w in words]


def _index(cues: Sequence[Cue]) -> dict[str, tuple[Cue, ...]]:
    by_first: dict[str, list[Cue]] = {}
    for cue in cues:
        if cue.tokens:
            by_first.setdefault(cue.tokens[0], []).append(cue)
    return {k: tuple(sorted(v, key=lambda c: -len(c.tokens))) for k, v in by_first.items()}


LEXICONS: dict[str, dict[str, tuple[Cue, ...]]] = {
    "en": _index(
        _cues(_EN_YES_BARE, Polarity.YES, True)
        + _cues(_EN_NO_BARE, Polarity.NO, True)
        + _cues(_EN_YES, Polarity.YES)
        + _cues(_EN_NO, Polarity.NO)
        + _cues(_EN_NEUTRAL, None)
    ),
    "it": _index(
        _cues(_IT_YES_BARE, Polarity.YES, True)
        + _cues(_IT_NO_BARE, Polarity.NO, True)
        + _cues(_IT_YES, Polarity.YES)
        + _cues(_IT_NO, Polarity.NO)
        + _cues(_IT_NEUTRAL, None)
    ),
}


def _longest_at(tokens: Sequence[str], i: int, lexicon: dict[str, tuple[Cue, ...]]) -> Cue | None:
    for cue in lexicon.get(tokens[i], ()):
        size = len(cue.tokens)
        if tuple(tokens[i : i + size]) == cue.tokens:
            return cue
    return None


def _flip(polarity: Polarity) -> Polarity:
    return Polarity.NO if polarity is Polarity.YES else Polarity.YES


def scan_cues(tokens: Sequence[str], language: str, inverted: bool = False) -> list[tuple[str, Polarity]]:
    """Every clear cue in `tokens`, in order, as (cue text, polarity)."""
    lexicon = LEXICONS.get(language, LEXICONS["en"])
    found: list[tuple[str, Polarity]] = []
    i = 0
    while i < len(tokens):
        cue = _longest_at(tokens, i, lexicon)
        if cue is None:
            i += 1
            continue
        i += len(cue.tokens)
        if cue.polarity is None:
            continue
        polarity = cue.polarity
        start = i - len(cue.tokens)
        if polarity is Polarity.YES and start > 0 and tokens[start - 1] in NEGATORS:
            polarity = Polarity.NO
        elif cue.bare and inverted:
            polarity = _flip(polarity)
        found.append((" ".join(cue.tokens), polarity))
    return found


def classify_answer(text_or_tokens: str | Sequence[str], language: str, inverted: bool = False) -> AnswerVerdict:
    """The verdict on one answer (text or normalized tokens): the last clear cue wins, else unclear."""
    tokens = normalize_tokens(text_or_tokens) if isinstance(text_or_tokens, str) else tuple(text_or_tokens)
    cues = scan_cues(tokens, language, inverted)
    if not cues:
        return AnswerVerdict(Polarity.UNCLEAR, "", ())
    text, polarity = cues[-1]
    if _self_contradicting(tokens):
        return AnswerVerdict(Polarity.UNCLEAR, "", tuple(cues))
    return AnswerVerdict(polarity, text, tuple(cues))


_CONTRADICTIONS = frozenset({("yes", "no"), ("no", "yes"), ("si", "no"), ("no", "si"), ("yeah", "no")})
"""A yes and a no back to back ("yes no head", ASR of "yes go ahead"): no clear answer, whichever comes last."""


def _self_contradicting(tokens: Sequence[str]) -> bool:
    return any(pair in _CONTRADICTIONS for pair in pairwise(tokens))
