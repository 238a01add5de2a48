"""Intent matching: the matcher's rules (concepts, negation, order-free windows, sound-alikes) and the regression
cases quoted in the [intents] issue, run through the built-in packs and the engine."""

from __future__ import annotations

import pytest

from rules.engine import CallMonitor
from rules.findings import Finding
from rules.intents import IntentMatcher, PatternError, compile_intent
from rules.kinds.matchers import check_matcher_params
from rules.matching_text import normalize_tokens
from rules.matching_views import TextView, text_view
from rules.packs import load_packs
from rules.transcripts import transcript_events

CONCEPTS = {
    "ERASE": ["delete", "erase", "wipe", "remove"],
    "DATA": ["data", "personal information", "details"],
    "WANT": ["want", "wish"],
    "RECORD": ["record", "recording"],
    "POLICE": ["=police"],
    "NOBODY": ["nobody"],
}


def view(text: str) -> TextView:
    tokens = normalize_tokens(text)
    return text_view(tokens, [float(i) for i in range(len(tokens))], [i + 0.5 for i in range(len(tokens))])


def matcher(*patterns: str, language: str = "en") -> IntentMatcher:
    return IntentMatcher(compile_intent("test", patterns, CONCEPTS, language))


def test_concepts_match_inflections_in_any_order_within_the_window() -> None:
    m = matcher("ERASE DATA @6")
    assert m.best(view("please wipe my details")) is not None
    assert m.best(view("my personal information should be deleted")) is not None  # other order, inflected
    assert m.best(view("delete the photo I sent with the form asking about my old data")) is None  # too far apart


def test_a_match_names_the_words_of_each_part_and_its_times() -> None:
    found = matcher("ERASE DATA").best(view("could you erase my personal information"))
    assert found is not None
    assert found.intent == "test" and found.similarity == 1.0
    assert dict(found.parts) == {"ERASE": "erase", "DATA": "personal information"}
    assert (found.text, found.start, found.end) == ("erase my personal information", 2.0, 5.5)


def test_negation_reaches_the_negated_verb_and_through_clause_taking_verbs() -> None:
    withdrawal = matcher("-WANT ~RECORD")
    assert withdrawal.best(view("I don't want this recorded")) is not None
    assert withdrawal.best(view("I want this recorded")) is None
    assert withdrawal.best(view("I don't mind, I want it recorded")) is None
    erasure = matcher("ERASE DATA")
    assert erasure.best(view("please don't delete my data")) is None
    assert erasure.best(view("I never asked you to delete my data")) is None  # asked → to → delete
    assert erasure.best(view("if you don't mind, delete my data")) is not None  # the negation ends at "mind"


def test_italian_negation_and_discourse_markers() -> None:
    m = IntentMatcher(compile_intent("t", ["ERASE DATA"], {"ERASE": ["cancellare"], "DATA": ["=dati"]}, "it"))
    assert m.best(view("non voglio cancellare i miei dati")) is None
    assert m.best(view("e niente volevo cancellare i miei dati")) is not None  # "e niente": no negation
    assert m.best(view("vorrei che cancellaste i miei dati")) is not None  # an inflection the stemmer keeps whole


def test_a_negation_stops_where_a_new_request_or_clause_begins() -> None:
    stop = IntentMatcher(compile_intent("t", ["STOP CALL"], {"STOP": ["stop"], "CALL": ["calling"]}, "en"))
    assert stop.best(view("it is not a good time and it never will be please stop calling me")) is not None
    assert stop.best(view("I never agreed to it so stop calling me")) is not None
    assert stop.best(view("I never said stop calling me")) is None  # the negation still reaches through "said"
    okay = IntentMatcher(compile_intent("t", ["-OKAY ~RECORD @5"], {"OKAY": ["okay"], "RECORD": ["recorded"]}, "en"))
    assert okay.best(view("I'm not okay with being recorded")) is not None  # a negation reaches "okay"
    assert okay.best(view("okay, it is recorded")) is None


def test_italian_negative_concord_negates_nothing_further() -> None:
    seize = IntentMatcher(compile_intent("t", ["SEIZE HOUSE"], {"SEIZE": ["pignorare"], "HOUSE": ["casa"]}, "it"))
    assert seize.best(view("se entro venerdì non arriva niente le pignoriamo la casa")) is not None
    assert seize.best(view("non le pignoriamo la casa")) is None
    record = IntentMatcher(compile_intent("t", ["-WANT ~RECORD"], {"WANT": ["voglio"], "RECORD": ["registrato"]}, "it"))
    assert record.best(view("non voglio mai più essere registrato")) is not None  # "mai più" inside the negation


def test_a_negator_before_the_last_part_denies_what_an_affirmative_pattern_says() -> None:
    concepts = {"YOU": ["you"], "JAIL": ["jail", "prison", "arrested"], "POLICE": ["=police"], "CALL": ["call"]}
    threat = IntentMatcher(compile_intent("t", ["YOU JAIL @10", "CALL POLICE @12"], concepts, "en"))
    assert threat.best(view("you will be sent to jail")) is not None
    assert threat.best(view("you can't be sent to jail for owing us money")) is None  # the negation reaches "sent"
    assert threat.best(view("they can't put you in prison for this")) is None  # only, yet it denies the prison
    assert threat.best(view("if you don't pay you will go to jail")) is not None  # a condition, not a denial
    assert threat.best(view("the next call won't be from me it'll be from the police")) is not None  # new clause
    assert threat.best(view("don't make me call the police")) is not None  # a demand, not a denial
    it = IntentMatcher(compile_intent("t", ["YOU JAIL @10"], {"YOU": ["lei"], "JAIL": ["galera"]}, "it"))
    assert it.best(view("lei non vuole finire in galera")) is not None  # English word order only


def test_a_request_after_please_is_not_vetoed_by_what_came_before() -> None:
    concepts = {"STOP": ["stop"], "CALL": ["calling"], "MISTAKE": ["by mistake"]}
    stop = IntentMatcher(compile_intent("t", ["STOP CALL !MISTAKE @4"], concepts, "en"))
    assert stop.best(view("she gave you my number by mistake please stop calling me")) is not None
    assert stop.best(view("she gave you my number by mistake so stop calling me")) is None
    assert stop.best(view("stop calling me please, it was by mistake")) is None  # a veto after the match holds


def test_a_sound_alike_never_vetoes() -> None:
    concepts = {"CELL": ["in a cell"], "SAFE": ["speeding"]}
    m = IntentMatcher(compile_intent("t", ["CELL !SAFE"], concepts, "en"))
    assert m.best(view("you could be spending the night in a cell")) is not None  # "spending" is not "speeding"
    assert m.best(view("he got caught speeding and spent the night in a cell")) is None


def test_forbidden_parts_veto_and_exact_words_take_no_sound_alikes() -> None:
    m = matcher("POLICE !NOBODY")
    assert m.best(view("the police will be there")) is not None
    assert m.best(view("your policy will be there")) is None  # =police: no stem, no sound-alike
    assert m.best(view("nobody is calling the police")) is None


def test_a_veto_counts_negated_or_not_unless_written_affirmative_only() -> None:
    concepts = {**CONCEPTS, "SAFE": ["call it"], "LOSE": ["lose"], "CAUTION": ["can lose"]}
    either = IntentMatcher(compile_intent("t", ["POLICE !SAFE"], concepts, "en"))
    assert either.best(view("don't call it police work")) is None  # "call it" vetoes although negated
    affirmative = IntentMatcher(compile_intent("t", ["-LOSE !+CAUTION"], concepts, "en"))
    assert affirmative.best(view("you can't lose")) is not None  # the caution is negated here: no veto
    assert affirmative.best(view("you can lose, you can't lose everything")) is None


def test_a_part_may_be_one_of_several_concepts() -> None:
    m = IntentMatcher(compile_intent("t", ["ERASE DATA|POLICE"], CONCEPTS, "en"))
    found = m.best(view("remove the police"))
    assert found is not None and dict(found.parts) == {"ERASE": "remove", "DATA|POLICE": "police"}


def test_sound_alikes_are_per_content_word_and_score_below_one() -> None:
    m = matcher("ERASE DATA")
    found = m.best(view("please delete my personal informaton"))
    assert found is not None and 0.86 <= found.similarity < 1.0
    assert dict(found.parts)["DATA"] == "personal informaton"
    assert m.best(view("please delete my personal informaton"), floor=0.99) is None
    assert m.best(view("please delete my personal formation")) is None  # another word, not a sound-alike


def test_a_near_miss_is_reported_only_below_the_candidate_ceiling() -> None:
    m = matcher("ERASE DATA")
    assert m.best(view("please delete the photo")) is None
    from rules.events import Speaker, Utterance
    said = Utterance("c", Speaker.CUSTOMER, 1, 0, "please delete the photo", (), 0.0, 2.0, True)
    assert m.best_in(said, floor=0.3) is None
    near = m.best_in(said, floor=0.3, near_misses=True)
    assert near is not None and near.similarity == pytest.approx(0.4) and dict(near.parts) == {"ERASE": "delete"}


def test_a_partial_waits_for_the_words_that_may_veto_it() -> None:
    m = matcher("POLICE !NOBODY")
    layout = view("the police will come")
    from rules.events import Speaker, Utterance
    partial = Utterance("c", Speaker.AGENT, 0, 0, layout.text, (), 0.0, 2.0, False)
    final = Utterance("c", Speaker.AGENT, 0, 0, layout.text, (), 0.0, 2.0, True)
    assert m.best_in(partial) is None  # "… but nobody …" may still follow
    assert m.best_in(final) is not None


def test_function_words_never_make_a_match() -> None:
    m = matcher("you_are_going_to POLICE")
    assert m.best(view("you are going to get a refund")) is None


def test_pattern_errors_say_what_is_wrong() -> None:
    with pytest.raises(PatternError, match="unknown concept 'NOPE'"):
        compile_intent("t", ["ERASE NOPE"], CONCEPTS, "en")
    with pytest.raises(PatternError, match="at least one required part"):
        compile_intent("t", ["ERASE? !DATA"], CONCEPTS, "en")
    errors = check_matcher_params({"patterns": {"en": ["ERASE Bad-Part"]}, "concepts": {"en": CONCEPTS}},
                                  "phrases", "patterns", required=True)
    assert errors and errors[0].field == "patterns.en[0]" and "neither an UPPERCASE concept" in errors[0].message
    assert check_matcher_params({}, "phrases", "patterns", required=True)[0].field == "patterns"


# --- the regression cases quoted in the [intents] issue, through the built-in packs -------------------------

RULES = load_packs()


def findings(lines: list[str], language: str = "en") -> list[Finding]:
    monitor = CallMonitor(RULES.rules, call_id="intents")
    out: list[Finding] = []
    for event in transcript_events("intents", lines, language):
        out.extend(monitor.feed(event))
    return out


def outcomes(lines: list[str], rule_id: str) -> set[str]:
    return {f.outcome for f in findings(lines) if f.rule_id == rule_id}


@pytest.mark.parametrize(
    "sentence",
    [
        "you are going to get a refund",
        "you are going to love the new plan",
        "you're going to find the form on our website",
        "you're going to fit just but you're going to drive the car",
    ],
)
def test_ordinary_sentences_raise_no_threat(sentence: str) -> None:
    assert "forbidden_said" not in outcomes([f"agent: {sentence}"], "conduct.threats")


@pytest.mark.parametrize("sentence", ["you could end up in prison over this"])
def test_quoted_threats_are_caught(sentence: str) -> None:
    assert "forbidden_said" in outcomes([f"agent: {sentence}"], "conduct.threats")


@pytest.mark.parametrize(
    "sentence", ["please wipe my details from your database", "I want everything you store about me removed"]
)
def test_quoted_erasure_requests_are_caught(sentence: str) -> None:
    lines = ["agent: how can I help you today", f"customer: {sentence}"]
    assert "erasure_requested" in outcomes(lines, "gdpr.erasure-request")


@pytest.mark.parametrize(
    "sentence", ["wait, I don't want this conversation recorded anymore", "turn the recording off please"]
)
def test_quoted_withdrawals_are_caught(sentence: str) -> None:
    lines = ["agent: how can I help you today", f"customer: {sentence}"]
    assert "consent_withdrawn" in outcomes(lines, "consent.recording")


@pytest.mark.parametrize(
    "sentence",
    ["calls are monitored and recorded to help us improve our service", "your call today will be recorded"],
)
def test_quoted_disclosures_are_caught(sentence: str) -> None:
    assert "said" in outcomes([f"agent: {sentence}"], "disclosure.recording")


@pytest.mark.parametrize("question", ["are you alright with that?", "is it okay if we continue?"])
def test_a_consent_question_by_itself_opens_the_answer_window_after_a_disclosure(question: str) -> None:
    lines = [
        "agent: thanks for calling, this call may be recorded for quality purposes",
        f"agent: {question}",
        "customer: yes that's fine",
    ]
    assert "consent_given" in outcomes(lines, "consent.recording")


def test_a_consent_question_without_a_disclosure_opens_nothing() -> None:
    lines = ["agent: we will post the new card, is that okay with you?", "customer: yes that's fine"]
    assert outcomes(lines, "consent.recording") & {"consent_given", "consent_refused", "consent_unclear"} == set()


def test_findings_explain_the_intent_and_its_parts() -> None:
    lines = ["agent: how can I help you today", "customer: please wipe my details from your database"]
    found = next(f for f in findings(lines) if f.outcome == "erasure_requested")
    assert found.details["intent"] == "erasure"
    assert dict(found.details["matched_parts"]) == {"ERASE": "wipe", "PERSONAL_DATA": "details"}
    assert "intent erasure, score 1.00" in found.reason


def test_no_pack_vetoes_a_word_its_own_pattern_requires() -> None:
    """A one-word veto whose stem is a word of a required part can only ever block its own pattern (a stem
    collision: "prisoner" vetoing "prison", "names" vetoing "take my name off"); `=word` or a longer phrase fixes it."""
    collisions = []
    for pack in load_packs().packs:
        for rule in pack.rules:
            concepts_by_language = rule.params.get("concepts") or {}
            for key, by_language in rule.params.items():
                if not key.endswith("patterns") or not isinstance(by_language, dict):
                    continue
                for language, patterns in by_language.items():
                    intent = compile_intent(rule.id, patterns, concepts_by_language.get(language, {}), language)
                    for pattern in intent.patterns:
                        required = {w.stem for part in pattern.required for t in part.terms for w in t.words}
                        vetoes = [t.words[0] for p in pattern.parts if p.forbidden for t in p.terms if len(t.words) < 2]
                        collisions += [f"{rule.id} {language}: {w.text}" for w in vetoes if w.stem in required]
    assert collisions == []
