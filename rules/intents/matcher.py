"""Find an intent in an utterance: concept occurrences per word, negation scope, the best window holding all parts.

Scoring weighs content words only: a part scores 1.0 when its words' stems occur, a sound-alike word scores its
similarity (per word, never over the whole string), and a pattern's score is the mean of its required parts.
Function words shared with a pattern ("you are going to …") never count, so they can never make a match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from rules.events import Utterance
from rules.intents.language import NEGATOR, language, negated_tokens, stem
from rules.intents.patterns import AFFIRMATIVE, EITHER, NEGATED, Intent, Part, Pattern, Term
from rules.matching import PhraseMatch
from rules.matching_views import TextView, utterance_layout, utterance_view

PREFIX_MIN = 6
"""A token starting with a pattern word's stem of this many letters or more is an inflection the stemmer missed
("eliminaste" → "elimin"); it scores PREFIX_SCORE."""
PREFIX_SCORE = 0.95
SOUND_ALIKE_MIN = 0.86
"""Lowest similarity (rapidfuzz ratio of the two words) at which a word stands for a pattern word of 6+ letters."""
CANDIDATE_CEILING = 0.8
"""A near miss (some required parts absent, too far apart or vetoed) scores at most this, and only a caller that
asks for near misses hears of it (required_phrase's `not_said` candidate)."""
PARTIAL_LOOKAHEAD = 8
"""Words a partial transcript must hold after a match of a pattern with `!` parts: what follows may forbid it."""
MAX_OCCURRENCES = 8
"""Occurrences per part considered when choosing a window (the earliest ones)."""
FORBIDDEN_REACH = 12
"""Words around a match within which a forbidden (`!`) part vetoes it, at least."""
FORBIDDEN_MIN_SCORE = 0.95
"""A forbidden part vetoes only when its words are there (stem or prefix), never for a sound-alike: "spending"
must not veto as "speeding" would."""

_Found = tuple[str, float, int, int, tuple[tuple[str, str], ...]]
"""A match before its times are looked up: (pattern, score, first token, last token + 1, (part, words) pairs)."""
_Occurrence = tuple[int, int, float]
"""(first token, last token + 1, score) of one part."""


@dataclass(frozen=True, slots=True)
class _Analysis:
    """An utterance's tokens as intent matching sees them: stems and who negated each token (-1: nobody)."""

    tokens: tuple[str, ...]
    stems: tuple[str, ...]
    negated_by: tuple[int, ...]
    code: str


_ANALYSES: dict[tuple[str, str], _Analysis] = {}
_ANALYSES_MAX = 8192


def _analysis(view: TextView, code: str) -> _Analysis:
    key = (view.text, code)
    found = _ANALYSES.get(key)
    if found is not None:
        return found
    tokens = view.tokens
    stems = tuple([stem(t, code) for t in tokens])
    negated = negated_tokens(tokens, stems, code)
    result = _Analysis(tokens, stems, negated, code)
    if len(_ANALYSES) >= _ANALYSES_MAX:
        _ANALYSES.clear()
    _ANALYSES[key] = result
    return result


class IntentMatcher:
    """Matches the patterns of one intent against utterances; `best_in` answers like a PhraseMatcher does."""

    def __init__(self, intent: Intent) -> None:
        self.intent = intent
        self.phrases: tuple[str, ...] = tuple(p.source for p in intent.patterns)
        """The patterns as written (the kinds treat an empty tuple as "nothing to match in this language")."""
        self._code = intent.language
        self._fillers = language(intent.language).fillers
        parts: dict[str, Part] = {}
        for pattern in intent.patterns:
            for part in pattern.parts:
                parts.setdefault(part.key, part)
        by_first: dict[str, list[tuple[str, Term]]] = {}
        fuzzy: dict[str, str] = {}
        for key, part in parts.items():
            for term in part.terms:
                by_first.setdefault(term.words[0].stem, []).append((key, term))
                for word in term.words:
                    if word.fuzzy:
                        fuzzy.setdefault(word.text, word.stem)
        self._by_first = by_first
        self._vocabulary = frozenset(w.stem for p in parts.values() for t in p.terms for w in t.words)
        self._anchors = tuple(
            tuple(sorted((frozenset(t.words[0].stem for t in part.terms) for part in pattern.required), key=len))
            for pattern in intent.patterns
        )
        """Per pattern, per required part: the keys its terms start with (a part cannot occur without one)."""
        self._anchor_keys = frozenset(key for anchors in self._anchors for part in anchors for key in part)
        self._token_anchors: dict[str, frozenset[str]] = {}
        self._last_keys: tuple[tuple[str, ...], frozenset[str]] | None = None
        self._fuzzy_words = tuple(sorted(fuzzy.items()))
        self._token_readings: dict[str, tuple[tuple[str, float], ...]] = {}
        self._last_possible: tuple[_Analysis, bool] | None = None
        self._memo: dict[tuple[str, float, bool, bool], _Found | None] = {}

    def surely_unmatched(self, utterance: Utterance) -> bool:
        """True only for a matcher without patterns: an intent is told from stems and sound-alikes (`cannot_match`
        and `best_in` look at them), never from the words' 4-letter prefixes this test reads for phrases."""
        return not self.phrases

    def cannot_match(self, view: TextView) -> bool:
        """True when no pattern can match `view`: some required part of each has no word to start from."""
        return not view.tokens or not self.phrases or not self._possible(_analysis(view, self._code))

    def _possible(self, analysis: _Analysis) -> bool:
        """Whether some pattern has, for each required part, a word its terms may start with (a cheap bound;
        remembered for the last analysis, which feed_idle and feed ask about in turn)."""
        last = self._last_possible
        if last is not None and last[0] is analysis:
            return last[1]
        tokens, stems = analysis.tokens, analysis.stems
        start, keys = 0, set()
        grown = self._last_keys
        if grown is not None and len(grown[0]) <= len(tokens) and tokens[: len(grown[0])] == grown[0]:
            start, keys = len(grown[0]), set(grown[1])  # a partial growing: only its new words are read
        for i in range(start, len(tokens)):
            anchors = self._anchors_of(tokens[i], stems[i])
            if anchors:
                keys |= anchors
        self._last_keys = (tokens, frozenset(keys))
        possible = bool(keys) and any(all(not part.isdisjoint(keys) for part in anchors) for anchors in self._anchors)
        self._last_possible = (analysis, possible)
        return possible

    def _anchors_of(self, token: str, token_stem: str) -> frozenset[str]:
        """The keys a token stands for that start some required part (memoized per token)."""
        known = self._token_anchors.get(token)
        if known is None:
            known = frozenset(k for k, _s in self._readings(token, token_stem) if k in self._anchor_keys)
            if len(self._token_anchors) >= 16384:
                self._token_anchors.clear()
            self._token_anchors[token] = known
        return known

    def best_in(self, utterance: Utterance, floor: float = 0.0, near_misses: bool = False) -> PhraseMatch | None:
        """The best pattern occurrence in the utterance scoring at least `floor`, with its times, or None; with
        `near_misses`, a near miss (scored below CANDIDATE_CEILING) when nothing matched."""
        if not self.phrases:
            return None
        found = self._found(utterance_layout(utterance), floor, utterance.final, near_misses)
        return None if found is None else self._located(found, utterance_view(utterance))

    def best(self, view: TextView, floor: float = 0.0) -> PhraseMatch | None:
        """The best pattern occurrence in `view` scoring at least `floor`, or None."""
        found = self._found(view, floor)
        return None if found is None else self._located(found, view)

    def _located(
        self, found: _Found, view: TextView
    ) -> PhraseMatch:
        source, score, first, last, parts = found
        return PhraseMatch(
            f"{self.intent.name}: {source}", score, first, last, view.starts[first], view.ends[last - 1],
            view.span_text(first, last), self.intent.name, parts,
        )

    def _found(
        self, view: TextView, floor: float, final: bool = True, near_misses: bool = False
    ) -> _Found | None:
        """The best match as (pattern, score, first, last, parts); a partial (not `final`) may still grow, so a
        pattern with forbidden parts counts there only when PARTIAL_LOOKAHEAD words follow its match."""
        if not view.tokens or not self.phrases:
            return None
        key = (view.text, floor, final, near_misses)
        memo = self._memo
        if key in memo:
            return memo[key]
        found = self._best(_analysis(view, self._code), floor, 0 if final else PARTIAL_LOOKAHEAD, near_misses)
        if len(memo) >= 4096:
            del memo[next(iter(memo))]
        memo[key] = found
        return found

    def _best(
        self, analysis: _Analysis, floor: float, lookahead: int, near_misses: bool
    ) -> _Found | None:
        if not near_misses and not self._possible(analysis):
            return None
        occurrences = self._occurrences(analysis)
        if not occurrences:
            return None
        best: _Found | None = None
        for pattern in self.intent.patterns:
            chosen = _choose(pattern, occurrences, analysis)
            if chosen is None:
                continue
            score, first, last, picks = chosen
            if lookahead and pattern.guarded and len(analysis.tokens) - last < min(lookahead, pattern.window):
                continue
            if score < floor or (best is not None and (score, first - last) <= (best[1], best[2] - best[3])):
                continue
            parts = tuple((label, " ".join(analysis.tokens[a:b])) for label, (a, b, _s) in picks)
            best = (pattern.source, score, first, last, parts)
        if best is None and near_misses:
            return self._candidate(occurrences, analysis, floor)
        return best

    def _candidate(
        self, occurrences: dict[str, list[_Occurrence]], analysis: _Analysis, floor: float
    ) -> _Found | None:
        """The nearest miss, for reports ("best candidate"): the pattern with the largest share of its required
        parts present (anywhere, vetoes ignored), scored CANDIDATE_CEILING × that share, so never a match."""
        best: _Found | None = None
        for pattern in self.intent.patterns:
            required = pattern.required
            present: list[tuple[str, _Occurrence]] = []
            for part in required:
                usable = [o for o in occurrences.get(part.key, ()) if _polarity_ok(part, o, analysis)]
                if usable:
                    present.append((part.label, usable[0]))
            score = CANDIDATE_CEILING * len(present) / len(required)
            if not present or score < floor or (best is not None and score <= best[1]):
                continue
            first = min(o[0] for _l, o in present)
            last = max(o[1] for _l, o in present)
            parts = tuple((label, " ".join(analysis.tokens[o[0]:o[1]])) for label, o in present)
            best = (pattern.source, score, first, last, parts)
        return best

    def _occurrences(self, analysis: _Analysis) -> dict[str, list[_Occurrence]]:
        """Per part key, where its terms occur in the utterance: (first, last + 1, score), earliest first."""
        tokens, stems = analysis.tokens, analysis.stems
        found: dict[str, list[_Occurrence]] = {}
        for i in range(len(tokens)):
            for candidate, score in self._readings(tokens[i], stems[i]):
                for key, term in self._by_first.get(candidate, ()):
                    matched = self._rest_of_term(term, analysis, i + 1, score)
                    if matched is not None:
                        found.setdefault(key, []).append((i, matched[0], matched[1]))
        return found

    def _rest_of_term(self, term: Term, analysis: _Analysis, j: int, score: float) -> tuple[int, float] | None:
        """(end token, score) of `term`'s words after its first, from token j on (fillers skipped), or None."""
        tokens, stems = analysis.tokens, analysis.stems
        for word in term.words[1:]:
            while j < len(tokens) and tokens[j] in self._fillers and tokens[j] != word.text:
                j += 1
            if j >= len(tokens):
                return None
            word_score = self._word_score(tokens[j], stems[j], word.stem)
            if word_score == 0.0:
                return None
            score = min(score, word_score)
            j += 1
        return j, score

    def _word_score(self, token: str, token_stem: str, wanted: str) -> float:
        if token_stem == wanted:
            return 1.0
        for candidate, score in self._readings(token, token_stem):
            if candidate == wanted:
                return score
        return 0.0

    def _readings(self, token: str, token_stem: str) -> tuple[tuple[str, float], ...]:
        """The pattern keys a token stands for: its stem (1.0), itself as an exact `=` word (1.0), and, when its
        stem is no pattern word's, sound-alikes of 6+-letter pattern words (their similarity)."""
        known = self._token_readings.get(token)
        if known is not None:
            return known
        readings: list[tuple[str, float]] = [(token_stem, 1.0)]
        exact = f"={token}"
        if exact in self._vocabulary:
            readings.append((exact, 1.0))
        if token_stem not in self._vocabulary and len(token) > PREFIX_MIN:
            readings.extend(
                (token[:k], PREFIX_SCORE) for k in range(PREFIX_MIN, len(token)) if token[:k] in self._vocabulary
            )
        if token_stem not in self._vocabulary and len(token) >= 5:
            for text, word_stem in self._fuzzy_words:
                if text[0] != token[0] or abs(len(text) - len(token)) > 2:
                    continue
                similarity = fuzz.ratio(token, text) / 100.0
                if similarity >= SOUND_ALIKE_MIN:
                    readings.append((word_stem, similarity))
        known = tuple(readings)
        if len(self._token_readings) >= 16384:
            self._token_readings.clear()
        self._token_readings[token] = known
        return known


def _polarity_ok(part: Part, occurrence: _Occurrence, analysis: _Analysis) -> bool:
    """Whether an occurrence has the polarity its part wants (negated by a negator before it, or not)."""
    if part.polarity == EITHER:
        return True
    first, last, _score = occurrence
    negated = False
    for k in range(first, last):
        by = analysis.negated_by[k]
        if by == NEGATOR:  # the term holds its own negation ("no risk"): what follows is its own business
            break
        if 0 <= by < first or by == last:  # by a negator before it, or right after a modal ("can not")
            negated = True
            break
    return negated == (part.polarity == NEGATED)


def _choose(
    pattern: Pattern, occurrences: dict[str, list[_Occurrence]], analysis: _Analysis
) -> tuple[float, int, int, list[tuple[str, tuple[int, int, float]]]] | None:
    """The best window holding every required part of `pattern`: (mean score, first, last + 1, picks)."""
    required: list[tuple[Part, list[_Occurrence]]] = []
    for part in pattern.required:
        usable = [o for o in occurrences.get(part.key, ()) if _polarity_ok(part, o, analysis)][:MAX_OCCURRENCES]
        if not usable:
            return None
        required.append((part, usable))
    best: tuple[float, int, int, list[tuple[str, tuple[int, int, float]]]] | None = None
    for picks in _combinations(required, pattern.window):
        first = min(o[0] for _label, o in picks)
        last = max(o[1] for _label, o in picks)
        if _forbidden_near(pattern, occurrences, analysis, first, last):
            continue
        if _negated_between(pattern, picks, analysis):
            continue
        score = sum(o[2] for _label, o in picks) / len(picks)
        if best is None or (score, first - last) > (best[0], best[1] - best[2]):
            best = (score, first, last, picks)
    if best is None:
        return None
    score, first, last, picks = best
    first, last = _widen(pattern, occurrences, analysis, first, last)
    return score, first, last, sorted(picks, key=lambda p: p[1][0])


_CONDITIONS = frozenset({"if", "unless", "until", "whether"})
_NEGATION_REACH = 4
"""Tokens from a negator to the part it denies ("can not be sent to jail"); further off it is another clause's."""
_PREPOSITIONS = frozenset({"without", "no"})
_DEMANDS = frozenset({"make", "let", "force", "want"})
_CLAUSE_STARTS = frozenset({
    "i", "you", "we", "they", "he", "she", "it", "but", "so", "and", "because", "then", "that", "who", "which",
    "please", "however", "although", "though", "otherwise", "or",
})


def _negated_between(
    pattern: Pattern, picks: Sequence[tuple[str, tuple[int, int, float]]], analysis: _Analysis
) -> bool:
    """True when an English negator just before a pattern's last part denies what the parts say ("you will not be
    sent to jail", "they can't put you in prison"): not when a new clause starts between them ("won't be from me,
    it'll be the police"), nor inside a condition ("if you don't pay …"), nor "don't make me …" (a demand)."""
    if analysis.code != "en" or any(p.polarity != AFFIRMATIVE for p in pattern.required) or len(picks) < 2:
        return False
    tokens = analysis.tokens
    inside = {k for _label, o in picks for k in range(o[0], o[1])}
    last = max(o[0] for _label, o in picks)
    for k in range(max(0, last - _NEGATION_REACH - 1), last):
        if analysis.negated_by[k] != NEGATOR or k in inside or tokens[k] in _PREPOSITIONS:
            continue
        between = [tokens[j] for j in range(k + 1, last) if j not in inside]
        if any(t in _CLAUSE_STARTS for t in between) or (between and between[0] in _DEMANDS):
            continue
        if not any(tokens[j] in _CONDITIONS for j in range(max(0, k - 4), k)):
            return True
    return False


def _combinations(
    required: Sequence[tuple[Part, list[_Occurrence]]], window: int
) -> list[list[tuple[str, tuple[int, int, float]]]]:
    """Every choice of one occurrence per required part, parts not overlapping, all within `window` tokens."""
    out: list[list[tuple[str, tuple[int, int, float]]]] = []
    chosen: list[tuple[str, tuple[int, int, float]]] = []

    def extend(index: int, low: int, high: int) -> None:
        if index == len(required):
            out.append(list(chosen))
            return
        part, usable = required[index]
        for occurrence in usable:
            first, last, _score = occurrence
            new_low, new_high = min(low, first), max(high, last)
            if new_high - new_low > window or any(first < b and a < last for _l, (a, b, _s) in chosen):
                continue
            chosen.append((part.label, occurrence))
            extend(index + 1, new_low, new_high)
            chosen.pop()

    extend(0, 1 << 30, -1)
    return out


def _forbidden_near(
    pattern: Pattern, occurrences: dict[str, list[_Occurrence]], analysis: _Analysis, first: int, last: int
) -> bool:
    """True when a forbidden part occurs (with its polarity) near [first, last): within the pattern's window or
    FORBIDDEN_REACH words of it, whichever is more."""
    reach = max(pattern.window, FORBIDDEN_REACH)
    for part in pattern.parts:
        if not part.forbidden:
            continue
        for occurrence in occurrences.get(part.key, ()):
            near = occurrence[1] > first - reach and occurrence[0] < last + reach
            if (
                near and occurrence[2] >= FORBIDDEN_MIN_SCORE and _polarity_ok(part, occurrence, analysis)
                and not _break_between(analysis, occurrence, first, last)
            ):
                return True
    return False


_REQUEST_MARKERS = frozenset({"please", "kindly", "favore", "cortesia", "gentilmente", "prego"})


def _break_between(analysis: _Analysis, occurrence: _Occurrence, first: int, last: int) -> bool:
    """True when a request marker ("please", "per favore") stands between an earlier veto and the match: the
    request starts afresh ("my mum gave you my number by mistake, please don't call me again")."""
    if occurrence[1] > first:  # a veto after the match still holds ("… guaranteed returns, please hang up, a scam")
        return False
    between = range(occurrence[1], first)
    return any(analysis.tokens[k] in _REQUEST_MARKERS for k in between)


def _widen(
    pattern: Pattern, occurrences: dict[str, list[_Occurrence]], analysis: _Analysis, first: int, last: int
) -> tuple[int, int]:
    """[first, last) widened to the optional parts found within the window (evidence, not score)."""
    for part in pattern.parts:
        if not part.optional:
            continue
        for occurrence in occurrences.get(part.key, ()):
            a, b = min(first, occurrence[0]), max(last, occurrence[1])
            if b - a <= pattern.window and _polarity_ok(part, occurrence, analysis):
                first, last = a, b
                break
    return first, last


__all__ = ["AFFIRMATIVE", "IntentMatcher"]
