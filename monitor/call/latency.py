"""Speech-to-alert latency bookkeeping: each alert's audio arrival paired with its sink handoff, then observed."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from prometheus_client import Histogram

LATENCY_MEMORY = 10_000
"""Alerts remembered while waiting for their handoff or refinement (bounded: a broker outage must not grow it)."""


@dataclass(slots=True)
class _Alert:
    rule_id: str
    outcome: str
    arrived: float
    handoff: float | None = None
    refining: bool = False


class AlertLatency:
    """Observes `handoff − arrival` per alert in `histogram` (labels rule, outcome) once both are known.

    A finding raised on a partial without word times ends at the recognizer's decoded position, which is later than
    the last word by the recognizer's look-ahead (0.1–0.5 s). Such an alert is held `refining` until its leg's next
    final with word times says where the last word before that position ended (`refined`), so the histogram
    measures from the speech, as a listener would, not from the audio that let the recognizer be sure.
    """

    def __init__(self, histogram: Histogram, memory: int = LATENCY_MEMORY) -> None:
        self.histogram = histogram
        self.memory = memory
        self._alerts: OrderedDict[str, _Alert] = OrderedDict()

    def raised(self, finding_id: str, rule_id: str, outcome: str, arrived: float, refining: bool = False) -> None:
        """A finding whose audio (up to its end) had arrived at wall time `arrived` goes to the sinks."""
        self._alerts[finding_id] = _Alert(rule_id, outcome, arrived, refining=refining)
        while len(self._alerts) > self.memory:
            self._alerts.popitem(last=False)

    def delivered(self, finding_id: str, handoff: float) -> None:
        """The sink handed the alert off (MQTT PUBACK, or written by the log sink) at wall time `handoff`."""
        alert = self._alerts.get(finding_id)
        if alert is None:
            return
        alert.handoff = handoff
        if not alert.refining:
            self._observe(finding_id, alert)

    def refined(self, finding_id: str, arrived: float | None) -> None:
        """The arrival of the alert's last word, from later word times (None: keep the first estimate)."""
        alert = self._alerts.get(finding_id)
        if alert is None:
            return
        alert.refining = False
        if arrived is not None:
            alert.arrived = min(alert.arrived, arrived)
        if alert.handoff is not None:
            self._observe(finding_id, alert)

    def _observe(self, finding_id: str, alert: _Alert) -> None:
        del self._alerts[finding_id]
        assert alert.handoff is not None
        self.histogram.labels(alert.rule_id, alert.outcome).observe(max(0.0, alert.handoff - alert.arrived))
