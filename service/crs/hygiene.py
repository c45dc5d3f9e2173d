"""Record hygiene on the card (R-PLAUSIBLE, R-DEDUP, R-UNIDENTIFIED): every data problem is named in the
card's Data quality section, never dropped silently. The translator found them; this module words them."""

from __future__ import annotations

from datetime import datetime

from service.crs.episode import Episode
from service.crs.findings import Findings
from service.crs.tocilizumab import implausible_weight_change, latest_weight


def name_data_problems(ctx: Episode, now: datetime, findings: Findings) -> None:
    _implausible_values(ctx, now, findings)
    _implausible_weight(ctx, now, findings)
    _duplicates(ctx, now, findings)
    _unidentified(ctx, now, findings)


def _implausible_values(ctx: Episode, now: datetime, findings: Findings) -> None:
    """R-PLAUSIBLE: outside the plausible range after unit conversion: not used, named with code, value, unit."""
    for item in ctx.timeline.implausible_values:
        if item.at is not None and item.at > now:
            continue
        when = {"time": item.at} if item.at is not None else {}
        findings.data_problem(
            "R-PLAUSIBLE",
            "implausible-value",
            "R-PLAUSIBLE.implausible-value",
            what=item.what,
            value=item.value,
            unit=item.unit,
            code=item.code,
            **when,
        )


def _implausible_weight(ctx: Episode, now: datetime, findings: Findings) -> None:
    latest = latest_weight(ctx, now)
    other = implausible_weight_change(ctx, latest) if latest is not None else None
    if latest is None or other is None:
        return
    findings.data_problem(
        "R-PLAUSIBLE",
        "weight-implausible",
        "R-PLAUSIBLE.weight-implausible",
        latest=latest.weight_kg,
        latest_time=latest.at,
        other=other.weight_kg,
        other_time=other.at,
        pct=ctx.policy.plausible.weight_change_pct,
    )


def _duplicates(ctx: Episode, now: datetime, findings: Findings) -> None:
    """R-DEDUP: the same drug, start and dose charted twice counts as one dose."""
    for duplicate in ctx.timeline.duplicate_doses:
        if duplicate.at <= now:
            findings.data_problem(
                "R-DEDUP",
                "duplicate-records",
                "R-DEDUP.duplicate-dose",
                drug=duplicate.drug,
                time=duplicate.at,
                count=len(duplicate.sources),
            )


def _unidentified(ctx: Episode, now: datetime, findings: Findings) -> None:
    """R-UNIDENTIFIED: administrations and active orders since t0 that no policy drug matches."""
    for item in ctx.timeline.unidentified_medications:
        if item.at is not None and not ctx.start <= item.at <= now:
            continue
        kind = "given" if item.resource_type == "MedicationAdministration" else "ordered"
        when = {"time": item.at} if item.at is not None else {}
        findings.data_problem(
            "R-UNIDENTIFIED", "unidentified-medications", "R-UNIDENTIFIED", name=item.name, kind=kind, **when
        )
