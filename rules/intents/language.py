"""Per-language word knowledge for intent matching: Snowball stems, fillers, negators and the reach of a negation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import snowballstemmer  # type: ignore[import-untyped, unused-ignore]


@dataclass(frozen=True, slots=True)
class Negation:
    """How one language negates: negator tokens, the words a negation skips and the verbs it reaches through.

    A negator negates the first content word after it (function words skipped); when that word is a verb that
    takes a clause ("want", "think", "going"), the next content word is negated too, up to `reach` words.
    """

    negators: frozenset[str]
    skipped: frozenset[str]
    extending: frozenset[str]
    """Stems of verbs through which a negation reaches the next content word ("don't want this recorded")."""
    weak: frozenset[str]
    """Negators that negate only the very next token when it is a content word ("no" in "no, go ahead")."""
    compound: frozenset[tuple[str, str]]
    """Two-token negators whose second token is not itself negated ("no longer", "no one")."""
    discourse: frozenset[tuple[str, str]] = frozenset()
    """Two tokens that look like a negation but are a discourse marker (Italian "e niente", "so, anyway")."""
    subjects: frozenset[str] = frozenset()
    """Negative pronouns as subjects ("nobody", "no one", "nessuno"): they negate their whole clause."""
    clause_ends: frozenset[str] = frozenset()
    """Words that end a clause, and with it a subject's negation ("but", "so", "ma", "quindi")."""
    concord: frozenset[str] = frozenset()
    """Negators that agree with a negation just made rather than start one (Italian "non arriva niente": the
    words after "niente" are not negated)."""
    breaks: frozenset[str] = frozenset()
    """Words a negation never reaches past: they open a new request ("it never will be, please stop calling")."""
    reach: int = 2
    clause_reach: int = 16
    modals: frozenset[str] = frozenset()
    """Modals a negator right after them negates too ("you can not be …": no "can", no future, no threat)."""


@dataclass(frozen=True, slots=True)
class Language:
    """What intent matching knows about one language."""

    code: str
    fillers: frozenset[str]
    negation: Negation


_EN_SKIPPED = frozenset(
    [
        "a", "an", "the", "i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them", "my",
        "your", "our", "their", "this", "that", "these", "those", "is", "are", "was", "were", "be", "been", "being",
        "am", "do", "does", "did", "will", "would", "shall", "should", "can", "could", "may", "might", "must",
        "have", "has", "had", "to", "going", "gonna", "ever", "really", "actually", "even", "just", "still", "yet",
        "at", "all", "so", "too", "very", "any", "anyone", "anybody", "one", "ones", "of", "for", "on", "in",
        "with", "about", "again", "more", "longer", "please", "sir", "madam", "also"
    ]
)
_IT_SKIPPED = frozenset(
    [
        "lo", "la", "le", "li", "gli", "ci", "vi", "si", "mi", "ti", "ne", "e", "è", "sono", "essere", "stato",
        "stata", "stati", "state", "sara", "sarà", "sarai", "saranno", "viene", "vengono", "verra", "verrà",
        "verranno", "ha", "hanno", "ho", "hai", "abbiamo", "avete", "piu", "più", "proprio", "ancora", "per", "a",
        "di", "da", "il", "un", "una", "uno", "io", "lei", "lui", "noi", "voi", "loro", "mio", "mia", "suo", "sua",
        "nostro", "vostro", "questa", "questo", "quella", "quello", "che", "davvero", "affatto", "alcun", "alcuna",
        "alcuno", "assolutamente", "già", "gia", "mica", "poi", "sto", "stai", "sta", "stiamo", "stanno", "solo",
        "c", "ce", "della", "dello", "degli", "delle", "del", "nella", "nel", "nelle", "negli", "alla", "allo",
        "al", "agli", "alle", "dal", "dalla", "dai", "dalle", "sulla", "sul", "con", "in", "su", "tra", "fra",
        "nostra", "nostri", "nostre", "vostra", "sue", "tuoi", "tua", "tuo", "venisse", "venissero", "fosse",
        "fossero", "venga", "vengano", "sia", "siano", "l", "dell", "all", "nell", "dall", "sull", "d", "glielo",
        "gliela", "glieli", "gliele", "ve", "te"
    ]
)

LANGUAGES: dict[str, Language] = {
    "en": Language(
        code="en",
        fillers=frozenset({"um", "uh", "uhm", "erm", "er", "ah", "hmm", "mm", "yeah", "well", "basically"}),
        negation=Negation(
            negators=frozenset({"not", "never", "nobody", "nothing", "neither", "nor", "noone", "none", "cannot"}),
            subjects=frozenset({"nobody", "noone", "none", "nothing", "neither"}),
            clause_ends=frozenset({"but", "so", "because", "however", "although", "though", "instead", "unless",
                                   "otherwise", "whereas", "while", "and"}),
            skipped=_EN_SKIPPED,
            extending=frozenset(
                {"want", "wanna", "wish", "like", "think", "believ", "need", "plan", "intend", "tri", "mean", "go",
                 "let", "allow", "expect", "see", "consent", "agre", "happi", "get", "keep", "way", "chanc",
                 "promis", "threaten", "say", "said", "tell", "told", "gave", "given", "permit", "abl", "ask",
                 "request", "intent", "give", "authoris", "authoriz"}
            ),
            breaks=frozenset({"please", "so", "but", "because", "however", "although", "though", "unless", "otherwise",
                              "whereas"}),
            weak=frozenset({"no"}),
            compound=frozenset({("no", "longer"), ("no", "one"), ("no", "more"), ("no", "way"), ("no", "chance")}),
            modals=frozenset({"will", "would", "can", "could", "may", "might", "shall", "should", "must"}),
        ),
    ),
    "it": Language(
        code="it",
        fillers=frozenset({"ehm", "eh", "uhm", "mah", "boh", "cioe", "insomma", "allora", "tipo", "beh", "ecco"}),
        negation=Negation(
            negators=frozenset({"non", "nun", "mai", "nessuno", "nessuna", "nessun", "niente", "nulla", "neanche",
                                "nemmeno", "neppure", "ne", "senza"}),
            subjects=frozenset({"nessuno", "nessuna"}),
            clause_ends=frozenset({"ma", "pero", "quindi", "perche", "invece", "mentre", "anche", "altrimenti",
                                   "e", "cosi"}),
            skipped=_IT_SKIPPED,
            extending=frozenset(
                {"vogl", "vuol", "vol", "vorre", "desider", "pens", "cred", "intend", "vad", "and", "dev", "pot",
                 "può", "puo", "poss", "acconsent", "accett", "piac", "far", "fa", "lasc", "permett", "serv",
                 "interess", "chied", "chiedend", "mod", "possibil", "permess", "promett", "minacc", "dic", "dir",
                 "dett", "dov", "intenzion", "prest", "do", "autorizz", "va"}
            ),
            concord=frozenset({"niente", "nulla", "mai", "nessun", "piu", "più"}),
            breaks=frozenset({"ma", "pero", "quindi", "perche", "invece", "altrimenti", "mentre"}),
            weak=frozenset({"no"}),
            compound=frozenset({("no", "piu")}),
            discourse=frozenset({("e", "niente"), ("eh", "niente"), ("ma", "niente"), ("niente", "niente"),
                                 ("allora", "niente"), ("ah", "niente"), ("e", "nulla")}),
        ),
    ),
}
"""The languages intent matching supports; others fall back to English word knowledge."""

_STEMMERS: dict[str, object] = {}
_STEM_CACHE: dict[tuple[str, str], str] = {}
_STEM_CACHE_MAX = 200_000
_SNOWBALL_NAMES = {"en": "english", "it": "italian"}


def language(code: str) -> Language:
    """The word knowledge of `code` ("it", "en"; anything else gets English)."""
    return LANGUAGES.get(code, LANGUAGES["en"])


def stem(token: str, code: str) -> str:
    """The Snowball stem of one normalized token in language `code` (memoized): "recorded" → "record"."""
    key = (code, token)
    found = _STEM_CACHE.get(key)
    if found is not None:
        return found
    stemmer = _STEMMERS.get(code)
    if stemmer is None:
        stemmer = _STEMMERS[code] = snowballstemmer.stemmer(_SNOWBALL_NAMES.get(code, "english"))
    result = str(stemmer.stemWord(token))  # type: ignore[attr-defined, unused-ignore]
    if len(_STEM_CACHE) >= _STEM_CACHE_MAX:
        _STEM_CACHE.clear()
    _STEM_CACHE[key] = result
    return result


NEGATOR = -2
"""`negated_tokens` marks the negators themselves with this (a term holding one carries its own negation)."""
_AGREEING = -3
"""A concord negator right after the word a negation reached: a negator, but one that negates nothing further."""


def negated_tokens(tokens: Sequence[str], stems: Sequence[str], code: str) -> tuple[int, ...]:
    """Per token, the index of the negator that reaches it (see `Negation`), -1 when none does, NEGATOR for a
    negator itself. Negators inside a negation's reach do not restart it (Italian "non … mai", "senza nessun")."""
    rules = language(code).negation
    size = len(tokens)
    out = [-1] * size
    i = 0
    while i < size:
        token = tokens[i]
        if out[i] == _AGREEING:
            out[i] = NEGATOR
            i += 1
            continue
        if out[i] >= 0:  # already reached by an earlier negator
            if token in rules.negators:
                out[i] = NEGATOR
            i += 1
            continue
        if i + 1 < size and (token, tokens[i + 1]) in rules.compound:
            out[i] = out[i + 1] = NEGATOR
            _negate_from(out, tokens, stems, i, i + 2, rules)
            i += 2
            continue
        if i > 0 and (tokens[i - 1], token) in rules.discourse:
            i += 1
            continue
        if token in rules.subjects:
            out[i] = NEGATOR
            _negate_clause(out, tokens, i, rules)
        elif token in rules.negators:
            out[i] = NEGATOR
            if i > 0 and out[i - 1] == -1 and tokens[i - 1] in rules.modals:
                out[i - 1] = i
            _negate_from(out, tokens, stems, i, i + 1, rules)
        elif (
            token in rules.weak and i + 1 < size and tokens[i + 1] not in rules.skipped
            and tokens[i + 1] not in rules.negators
        ):
            out[i] = NEGATOR
            out[i + 1] = i
        i += 1
    return tuple(out)


def _negate_from(
    out: list[int], tokens: Sequence[str], stems: Sequence[str], negator: int, first: int, rules: Negation
) -> None:
    """Negate the content words from `first` on: the first one, then through clause-taking verbs."""
    reached = 0
    for j in range(first, min(len(tokens), first + 8)):
        token = tokens[j]
        if token in rules.breaks:
            return
        if token in rules.negators:
            out[j] = NEGATOR
            continue
        if token in rules.skipped:
            continue
        out[j] = negator
        reached += 1
        if stems[j] not in rules.extending or reached >= rules.reach:
            _agree(out, tokens, j + 1, rules)
            return


def _agree(out: list[int], tokens: Sequence[str], first: int, rules: Negation) -> None:
    """Mark the concord negators that follow a negated word ("non arriva niente", "non chiamo più")."""
    for j in range(first, min(len(tokens), first + 2)):
        if tokens[j] not in rules.concord:
            return
        out[j] = _AGREEING


def _negate_clause(out: list[int], tokens: Sequence[str], negator: int, rules: Negation) -> None:
    """A negative subject negates every word of its clause ("nobody on this line can promise you …")."""
    for j in range(negator + 1, min(len(tokens), negator + 1 + rules.clause_reach)):
        if tokens[j] in rules.clause_ends:
            return
        out[j] = NEGATOR if tokens[j] in rules.negators else negator
