"""C3-FEVER-UNKNOWN: no temperature in 24 h while the patient needs support of class N >= 2.

The assessment is "grade 0, or N if febrile", never "criteria not met": the card leads with "measure the
temperature now", shows grade N's management as conditional text and suggests no order on a guess.
"""

from __future__ import annotations

from dataclasses import replace

from service.crs import management
from service.crs.assessment import Note, Param, note
from service.crs.findings import Findings, Situation
from service.crs.indications import with_grade
from service.crs.vitals import current_oxygen


def apply(situation: Situation, findings: Findings) -> None:
    possible = situation.current.possible_grade
    if possible is None:
        return
    ctx = situation.ctx
    findings.next_steps.append(
        note(
            "C3-FEVER-UNKNOWN",
            "C3-FEVER-UNKNOWN.measure",
            support_notes(situation),
            hours=ctx.policy.fever.window_hours,
            threshold=ctx.policy.fever.threshold_c,
            grade=possible,
        )
    )
    findings.fire("C3-FEVER-UNKNOWN")
    _last_fever(situation, findings)
    findings.next_steps.append(
        note("C3-FEVER-UNKNOWN", "C3-FEVER-UNKNOWN.if-febrile", what_if_febrile(situation, possible), grade=possible)
    )


def _last_fever(situation: Situation, findings: Findings) -> None:
    """When the last fever since t0 is older than 24 h, the card names it."""
    fevers = [fever for fever in situation.ctx.fevers if fever.at <= situation.now]
    if fevers:
        last = fevers[-1]
        findings.step("C3-FEVER-UNKNOWN", "C3-FEVER-UNKNOWN.last-fever", temp=last.temp_c, time=last.at)


def what_if_febrile(situation: Situation, possible: int) -> tuple[Note, ...]:
    """Grade N's grade steps and orders, as they would be if a fever were charted now: wording only."""
    current = situation.current
    febrile = replace(
        current, grade=possible, fever=True, unknown=tuple(name for name in current.unknown if name != "fever")
    )
    scratch = Findings()
    management.plan_treatment(with_grade(situation, febrile, max(possible, situation.managed or 0)), scratch)
    steps = [step for step in scratch.next_steps if step.rule in ("M-G2-TOCI", "M-G3", "M-G4")]
    return (*steps, *(order.wording() for order in scratch.recommended))


def support_notes(situation: Situation) -> tuple[Note, ...]:
    """What the patient is on: the vasopressors, a low blood pressure, the oxygen device or flow."""
    current = situation.current
    parts = []
    if current.active_vasopressors:
        drugs = tuple(sorted({dose.drug for dose in current.active_vasopressors}))
        parts.append(note("C3-FEVER-UNKNOWN", "support.vasopressors", drugs=drugs))
    elif (current.hypotension or 0) >= 2:
        parts.append(note("C3-FEVER-UNKNOWN", "support.hypotension"))
    if (current.hypoxia or 0) >= 2:
        support = current_oxygen(situation.ctx, situation.now)
        params: dict[str, Param] = {}
        if support is not None and support.device_name:
            params["device"] = support.device_name
        if support is not None and support.flow_l_min is not None:
            params["flow"] = support.flow_l_min
        parts.append(note("C3-FEVER-UNKNOWN", "support.oxygen", **params))
    return tuple(parts)
