"""Plain cards for the engine's results, until the card catalog renders them (issue #4).

They already carry the machine-readable contracts of architecture.md (``crs-assessment``,
``crs-order-check``) and obey the card rules of the checklist (uuid, summary < 140 characters).
"""

from __future__ import annotations

import uuid
from typing import Any

from service.crs.assessment import Assessment
from service.crs.orders import OrderCheck

SOURCE = {"label": "CAR T-cell CRS protocol (ASTCT grading)", "url": "https://www.astct.org/"}


def assessment_extension(assessment: Assessment) -> dict[str, Any]:
    return {
        "grade": assessment.grade,
        "managedAsGrade": assessment.managed_grade,
        "rules": list(assessment.rules),
        "flags": list(assessment.flags),
        "asOf": assessment.as_of.isoformat().replace("+00:00", "Z"),
        "policyVersion": assessment.policy_version,
    }


def assessment_summary(assessment: Assessment) -> str:
    if assessment.grade is None:
        return "CRS grade unknown: insufficient recent vital signs after CAR T-cell therapy"
    text = f"CRS grade {assessment.grade} (ASTCT)"
    if assessment.unknown_classes:
        text = f"CRS grade at least {assessment.grade} (ASTCT; {', '.join(assessment.unknown_classes)} unknown)"
    if assessment.managed_grade is not None and assessment.managed_grade != assessment.grade:
        text += f", manage as grade {assessment.managed_grade}"
    return text[:139]


def assessment_detail(assessment: Assessment) -> str:
    sections = [
        (
            "Evidence",
            [f"{item.text} ({item.at:%Y-%m-%d %H:%M} UTC)" if item.at else item.text for item in assessment.evidence],
        ),
        ("Suggested orders", [order.text for order in assessment.recommended]),
        ("Withheld", [f"{item.drug}: {item.reason}" for item in assessment.withheld]),
        ("Next steps", [note.text for note in assessment.next_steps]),
        ("Monitoring", [note.text for note in assessment.reminders]),
    ]
    parts = [f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines) for title, lines in sections if lines]
    return "\n\n".join(parts) or "No findings."


def assessment_card(assessment: Assessment) -> dict[str, Any]:
    """The CRS assessment card (null grade in the extension means insufficient data, per the contract)."""
    # The extension must carry grade: null (architecture.md), so its nulls are kept on purpose.
    return {
        "uuid": str(uuid.uuid4()),
        "summary": assessment_summary(assessment),
        "indicator": assessment.indicator,
        "detail": assessment_detail(assessment),
        "source": dict(SOURCE),
        "extension": {"crs-assessment": assessment_extension(assessment)},
    }


def order_check_card(check: OrderCheck) -> dict[str, Any]:
    first = check.messages[0].text
    return {
        "uuid": str(uuid.uuid4()),
        "summary": first if len(first) < 140 else first[:136] + "...",
        "indicator": check.indicator,
        "detail": "\n".join(f"- {note.text} ({note.rule})" for note in check.messages),
        "source": dict(SOURCE),
        "extension": {"crs-order-check": {"rules": list(check.rules), "draftOrder": check.draft}},
    }
