"""C3-FEVER-UNKNOWN: no temperature in 24 h while the patient needs support of class N >= 2.

The assessment is "grade 0, or N if febrile", never "criteria not met": the card leads with "measure the
temperature now", shows grade N's management as conditional text and suggests no order on a guess.
"""

from __future__ import annotations

from dataclasses import replace

from service.crs import management
from service.crs.evidence import fmt_number, fmt_time
from service.crs.findings import Findings, Situation
from service.crs.grading import current_oxygen


def apply(situation: Situation, findings: Findings) -> None:
    possible = situation.current.possible_grade
    if possible is None:
        return
    ctx = situation.ctx
    support = support_text(situation)
    threshold = fmt_number(ctx.policy.fever.threshold_c)
    findings.step(
        "C3-FEVER-UNKNOWN",
        f"No temperature charted in 24 h while on {support}: measure it now; "
        f"if >= {threshold} °C this is CRS grade {possible}.",
        key="C3-FEVER-UNKNOWN.measure",
        support=support,
        threshold=threshold,
        grade=str(possible),
    )
    _last_fever(situation, findings)
    for text in what_if_febrile(situation, possible):
        findings.step("C3-FEVER-UNKNOWN", f"If febrile: {text}", key="C3-FEVER-UNKNOWN.if-febrile", action=text)


def _last_fever(situation: Situation, findings: Findings) -> None:
    """When the last fever since t0 is older than 24 h, the card names it."""
    fevers = [fever for fever in situation.ctx.fevers if fever.at <= situation.now]
    if fevers:
        last = fevers[-1]
        temp, when = fmt_number(last.temp_c), fmt_time(last.at)
        findings.step(
            "C3-FEVER-UNKNOWN",
            f"Last fever since the CAR T infusion: {temp} °C ({when}).",
            key="C3-FEVER-UNKNOWN.last-fever",
            temp=temp,
            time=when,
        )


def what_if_febrile(situation: Situation, possible: int) -> list[str]:
    """Grade N's orders and grade steps, as they would be if a fever were charted now: text only."""
    current = situation.current
    febrile = replace(
        current, grade=possible, fever=True, unknown=tuple(name for name in current.unknown if name != "fever")
    )
    scratch = Findings()
    management.plan_treatment(
        replace(situation, current=febrile, managed=max(possible, situation.managed or 0)), scratch
    )
    orders = [order.text for order in scratch.recommended]
    steps = [note.text for note in scratch.next_steps if note.rule in ("M-G2-TOCI", "M-G3", "M-G4")]
    return [*steps, *orders]


def support_text(situation: Situation) -> str:
    """What the patient is on, in words: the vasopressors, the oxygen device or flow, a low blood pressure."""
    current = situation.current
    parts = []
    if current.active_vasopressors:
        parts.append(" and ".join(sorted({dose.drug for dose in current.active_vasopressors})))
    elif (current.hypotension or 0) >= 2:
        parts.append("a blood pressure below the hypotension threshold")
    if (current.hypoxia or 0) >= 2:
        support = current_oxygen(situation.ctx, situation.now)
        parts.append(_oxygen_words(support.device_name, support.flow_l_min) if support else "oxygen")
    return " and ".join(parts) or "support"


def _oxygen_words(device: str | None, flow: float | None) -> str:
    flow_text = f"{fmt_number(flow)} L/min" if flow is not None else ""
    return " ".join(part for part in (device or "oxygen", flow_text) if part)
