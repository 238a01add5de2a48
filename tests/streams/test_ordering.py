"""The audio-time merge of a call's legs: release by the call clock, each leg's own order kept, a bounded hold."""

from __future__ import annotations

from rules.events import Speaker, Utterance
from streams.ordering import AudioTimeOrder


def utt(channel: int, index: int, start: float, end: float, final: bool = True) -> Utterance:
    speaker = Speaker.AGENT if channel == 0 else Speaker.CUSTOMER
    return Utterance("c", speaker, channel, index, f"{channel}-{index}-{final}", (), start, end, final)


def test_an_answer_decoded_first_waits_for_the_prompt_before_it() -> None:
    order = AudioTimeOrder(2)
    answer = utt(1, 0, 6.0, 7.0)
    order.add(answer)
    assert order.release(clock=0.0) == []  # the agent's leg has decoded nothing yet
    prompt = utt(0, 0, 2.0, 5.0)
    order.add(prompt)
    assert order.release(clock=5.5) == [prompt]
    assert order.release(clock=7.0) == [answer]
    assert len(order) == 0


def test_a_leg_keeps_its_own_order_when_a_final_ends_before_its_partial() -> None:
    order = AudioTimeOrder(2)
    partial, final = utt(0, 0, 1.0, 3.0, final=False), utt(0, 0, 1.0, 2.6)
    other = utt(1, 0, 2.7, 2.8)
    for u in (partial, final, other):
        order.add(u)
    assert order.release(clock=10.0) == [other, partial, final]


def test_a_stalled_leg_holds_the_others_at_most_max_hold() -> None:
    order = AudioTimeOrder(2)
    early, late = utt(1, 0, 1.0, 2.0), utt(1, 1, 20.0, 21.0)
    order.add(early)
    order.add(late)
    assert order.release(clock=0.0, lead=21.0, max_hold=10.0) == [early]
    assert order.flush() == [late]
