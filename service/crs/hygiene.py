"""Record hygiene on the card (R-PLAUSIBLE, R-DEDUP, R-UNIDENTIFIED): every data problem is named in the
card's Data quality section, never dropped silently. The translator found them; this module words them."""

from __future__ import annotations

from datetime import datetime

from service.crs.evidence import fmt_number, fmt_time
from service.crs.findings import Findings
from service.crs.grading import Context
from service.crs.tocilizumab import implausible_weight_change, latest_weight


def name_data_problems(ctx: Context, now: datetime, findings: Findings) -> None:
    _implausible_values(ctx, now, findings)
    _implausible_weight(ctx, now, findings)
    _duplicates(ctx, now, findings)
    _unidentified(ctx, now, findings)


def _implausible_values(ctx: Context, now: datetime, findings: Findings) -> None:
    """R-PLAUSIBLE: outside the plausible range after unit conversion: not used, named with code, value, unit."""
    for item in ctx.timeline.implausible_values:
        if item.at is not None and item.at > now:
            continue
        findings.data_problem(
            "R-PLAUSIBLE",
            "implausible-value",
            f"Implausible {item.what} not used: {item.value} {item.unit} "
            f"({item.code or 'no code'}, {fmt_time(item.at)}).",
            key="R-PLAUSIBLE.implausible-value",
            what=item.what,
            value=item.value,
            unit=item.unit,
            code=item.code,
            time=fmt_time(item.at),
        )


def _implausible_weight(ctx: Context, now: datetime, findings: Findings) -> None:
    latest = latest_weight(ctx, now)
    other = implausible_weight_change(ctx, latest) if latest is not None else None
    if latest is None or other is None:
        return
    pct = fmt_number(ctx.policy.plausible.weight_change_pct)
    findings.data_problem(
        "R-PLAUSIBLE",
        "weight-implausible",
        f"Latest weight {fmt_number(latest.weight_kg)} kg ({fmt_time(latest.at)}) differs by more than {pct} % from "
        f"{fmt_number(other.weight_kg)} kg ({fmt_time(other.at)}): confirm the weight; "
        "doses are given per kg until then.",
        key="R-PLAUSIBLE.weight-implausible",
        latest=fmt_number(latest.weight_kg),
        latest_time=fmt_time(latest.at),
        other=fmt_number(other.weight_kg),
        other_time=fmt_time(other.at),
        pct=pct,
    )


def _duplicates(ctx: Context, now: datetime, findings: Findings) -> None:
    """R-DEDUP: the same drug, start and dose charted twice counts as one dose."""
    for duplicate in ctx.timeline.duplicate_doses:
        if duplicate.at <= now:
            findings.data_problem(
                "R-DEDUP",
                "duplicate-records",
                f"{duplicate.drug.capitalize()} at {fmt_time(duplicate.at)} is charted {len(duplicate.sources)} "
                "times with the same dose: counted as one dose.",
                key="R-DEDUP.duplicate-dose",
                drug=duplicate.drug,
                time=fmt_time(duplicate.at),
                count=str(len(duplicate.sources)),
            )


def _unidentified(ctx: Context, now: datetime, findings: Findings) -> None:
    """R-UNIDENTIFIED: administrations and active orders since t0 that no policy drug matches."""
    for item in ctx.timeline.unidentified_medications:
        if item.at is not None and not ctx.start <= item.at <= now:
            continue
        kind = "given" if item.resource_type == "MedicationAdministration" else "ordered"
        findings.data_problem(
            "R-UNIDENTIFIED",
            "unidentified-medications",
            f"Unidentified medication {kind}: {item.name} ({fmt_time(item.at)}). Check whether it is tocilizumab "
            "or a corticosteroid before ordering either: it is not counted.",
            key="R-UNIDENTIFIED",
            name=item.name,
            kind=kind,
            time=fmt_time(item.at),
        )
