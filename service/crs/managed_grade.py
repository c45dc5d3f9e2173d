"""The managed grade: the ASTCT grade raised by the rules that manage a patient as a higher grade
(M-G1-PERSISTENT to 2, M-G2-ESCALATE to 3, M-HLH to at least 3), with the evidence each rule names."""

from __future__ import annotations

from datetime import datetime

from service.crs.assessment import Param
from service.crs.episode import Episode
from service.crs.escalation import no_improvement_after_tocilizumab
from service.crs.evidence import Evidence
from service.crs.findings import Findings
from service.crs.grading import GradeResult
from service.crs.history import ORGAN_LABS, hlh_criteria, persistent_fever
from service.crs.timeline import LabResult

HlhFinding = tuple[LabResult, list[LabResult]]


def managed_grade(
    ctx: Episode, current: GradeResult, now: datetime, findings: Findings
) -> tuple[int | None, HlhFinding | None]:
    """The managed grade at ``now`` and the M-HLH labs when the criteria hold."""
    managed = _persistent_fever(ctx, current.grade, now, findings)
    managed = _no_improvement(ctx, current, managed, now, findings)
    hlh = hlh_criteria(ctx, now)
    if hlh is not None:  # M-HLH
        managed = max(managed or 0, 3)
        _hlh_evidence(ctx, hlh, findings)
    return managed, hlh


def _persistent_fever(ctx: Episode, managed: int | None, now: datetime, findings: Findings) -> int | None:
    persistent = persistent_fever(ctx, now)
    if persistent is None or (managed or 0) >= 2:
        return managed
    first, last = persistent  # M-G1-PERSISTENT
    findings.fire("M-G1-PERSISTENT")
    hours = ctx.policy.management.persistent_fever_hours
    findings.evidence.append(
        Evidence("M-G1-PERSISTENT", "M-G1-PERSISTENT", first.at, (first.source, last.source), {"hours": hours})
    )
    return 2


def _no_improvement(
    ctx: Episode, current: GradeResult, managed: int | None, now: datetime, findings: Findings
) -> int | None:
    escalation = no_improvement_after_tocilizumab(ctx, current, now)
    if escalation is None or (managed or 0) >= 3:
        return managed
    dose = escalation.reference_dose  # M-G2-ESCALATE
    findings.fire("M-G2-ESCALATE")
    params: dict[str, Param] = {
        "hours": ctx.policy.management.no_improvement_hours,
        "grade_at_dose": escalation.grade_at_dose,
    }
    findings.evidence.append(Evidence("M-G2-ESCALATE", "M-G2-ESCALATE", dose.at, (dose.source,), params))
    return 3


def _hlh_evidence(ctx: Episode, hlh: HlhFinding, findings: Findings) -> None:
    ferritin, organs = hlh
    findings.fire("M-HLH")
    params: dict[str, Param] = {
        "ferritin": ferritin.value,
        "above": ctx.policy.hlh.ferritin_above_ng_ml,
        "organs": tuple(ORGAN_LABS[o.kind][0] for o in organs),
    }
    findings.evidence.append(
        Evidence("M-HLH", "M-HLH", ferritin.at, (ferritin.source, *(o.source for o in organs)), params)
    )
