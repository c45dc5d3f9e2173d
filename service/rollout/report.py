"""``crs-cds report``: calls, cards (shown and silent), feedback and timings per service and rule.

Built from the per-call records of a date range and the feedback on their cards, whenever it arrived.
Acceptance and override rates are over shown cards: a withheld (silent) card cannot get feedback.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from service.rollout.tables import cell, percent, text_table
from service.storage.models import CallRecord, Feedback

ALL_RULES = "(all rules)"


@dataclass
class CardCounts:
    shown: int = 0
    silent: int = 0
    accepted: int = 0
    overridden: int = 0

    def rate(self, count: int) -> float | None:
        return round(count / self.shown, 4) if self.shown else None


@dataclass
class ServiceStats:
    service: str
    calls: int = 0
    errors: int = 0
    silent_calls: int = 0
    fhir_fallback_calls: int = 0
    times_ms: list[float] = field(default_factory=list)
    rules: dict[str, CardCounts] = field(default_factory=lambda: defaultdict(CardCounts))

    def median_ms(self) -> float | None:
        return round(statistics.median(self.times_ms), 1) if self.times_ms else None

    def p95_ms(self) -> float | None:
        if len(self.times_ms) < 2:
            return self.median_ms()
        return round(statistics.quantiles(self.times_ms, n=20, method="inclusive")[18], 1)

    def fallback_rate(self) -> float | None:
        answered = self.calls - self.errors
        return round(self.fhir_fallback_calls / answered, 4) if answered else None


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    services: list[ServiceStats]
    reasons: dict[tuple[str, str, str], int]  # (service, rule, reason) -> overrides
    silent_cards: dict[tuple[str, str, str, str], int]  # (service, grade, rule, indicator) -> would-be cards
    silent_by_grade: dict[tuple[str, str, str], int]  # (service, grade, indicator) -> would-be cards


def build_report(start: datetime, end: datetime, calls: Sequence[CallRecord], feedback: Iterable[Feedback]) -> Report:
    outcomes = _outcomes(feedback)
    services: dict[str, ServiceStats] = {}
    reasons: Counter[tuple[str, str, str]] = Counter()
    silent_cards: Counter[tuple[str, str, str, str]] = Counter()
    silent_by_grade: Counter[tuple[str, str, str]] = Counter()
    for call in calls:
        stats = services.setdefault(call.service_id, ServiceStats(call.service_id))
        _count_call(stats, call)
        for card in call.cards:
            _count_card(stats, card, outcomes.get(str(card["uuid"]), []), reasons)
            if card.get("withheld"):
                grade = "unknown" if call.grade is None else str(call.grade)
                silent_by_grade[(call.service_id, grade, str(card["indicator"]))] += 1
                for rule in card["rules"] or ["(no rule)"]:
                    silent_cards[(call.service_id, grade, rule, str(card["indicator"]))] += 1
    ordered = sorted(services.values(), key=lambda stats: stats.service)
    return Report(start, end, ordered, dict(reasons), dict(silent_cards), dict(silent_by_grade))


def _outcomes(feedback: Iterable[Feedback]) -> dict[str, list[Feedback]]:
    by_card: dict[str, list[Feedback]] = defaultdict(list)
    for item in feedback:
        by_card[item.card_uuid].append(item)
    return by_card


def _count_call(stats: ServiceStats, call: CallRecord) -> None:
    stats.calls += 1
    if call.http_status != 200:
        stats.errors += 1
        return
    stats.times_ms.append(call.total_ms)
    stats.silent_calls += call.silent
    stats.fhir_fallback_calls += bool(call.fetched_keys)


def _count_card(
    stats: ServiceStats, card: dict[str, Any], items: list[Feedback], reasons: Counter[tuple[str, str, str]]
) -> None:
    accepted = any(item.outcome == "accepted" for item in items)
    overridden = [item for item in items if item.outcome == "overridden"]
    for rule in [ALL_RULES, *card["rules"]]:
        counts = stats.rules[rule]
        if card.get("withheld"):
            counts.silent += 1
            continue
        counts.shown += 1
        counts.accepted += accepted
        counts.overridden += bool(overridden)
        for item in overridden:
            reasons[(stats.service, rule, reason_text(item))] += 1


def reason_text(item: Feedback) -> str:
    if not item.override_code and not item.override_display:
        return "(no reason given)"
    return f"{item.override_display or '-'} [{item.override_code or '-'}]"


def rule_rows(report: Report) -> list[dict[str, Any]]:
    """One flat row per service and rule (the CSV and the table); the service's own row is ``(all rules)``."""
    rows = []
    for stats in report.services:
        for rule in sorted(stats.rules or {ALL_RULES: CardCounts()}, key=lambda name: (name != ALL_RULES, name)):
            counts = stats.rules.get(rule, CardCounts())
            service_level = rule == ALL_RULES
            rows.append(
                {
                    "service": stats.service,
                    "rule": rule,
                    "calls": stats.calls if service_level else None,
                    "errors": stats.errors if service_level else None,
                    **asdict(counts),
                    "acceptance_rate": counts.rate(counts.accepted),
                    "override_rate": counts.rate(counts.overridden),
                    "median_ms": stats.median_ms() if service_level else None,
                    "p95_ms": stats.p95_ms() if service_level else None,
                    "fhir_fallback_rate": stats.fallback_rate() if service_level else None,
                }
            )
    return rows


def as_json(report: Report) -> dict[str, Any]:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "rules": rule_rows(report),
        "override_reasons": [
            {"service": service, "rule": rule, "reason": reason, "count": count}
            for (service, rule, reason), count in sorted(report.reasons.items())
        ],
        "silent_cards": [
            {"service": service, "grade": grade, "rule": rule, "indicator": indicator, "cards": count}
            for (service, grade, rule, indicator), count in sorted(report.silent_cards.items())
        ],
        "silent_cards_by_grade": [
            {"service": service, "grade": grade, "indicator": indicator, "cards": count}
            for (service, grade, indicator), count in sorted(report.silent_by_grade.items())
        ],
    }


RULE_HEADERS = (
    "service",
    "rule",
    "calls",
    "errors",
    "shown",
    "silent",
    "accepted",
    "accept %",
    "overridden",
    "override %",
    "median ms",
    "p95 ms",
    "FHIR fallback",
)


def as_text(report: Report) -> str:
    """The readable report: per service and rule, the override reasons, and what silent services withheld."""
    parts = [f"crs-cds report {report.start.isoformat()} to {report.end.isoformat()}"]
    if not report.services:
        return parts[0] + "\n\nNo hook calls in this period."
    parts.append("Calls and cards per service and rule\n" + text_table(RULE_HEADERS, _rule_cells(report)))
    reasons = [
        [service, reason, str(count)]
        for (service, rule, reason), count in sorted(report.reasons.items(), key=lambda item: (item[0][0], -item[1]))
        if rule == ALL_RULES
    ]
    if reasons:
        parts.append(
            "Override reasons (per rule: --format json)\n" + text_table(("service", "reason", "cards"), reasons)
        )
    parts.append(_silent_section(report))
    return "\n\n".join(parts)


def _rule_cells(report: Report) -> list[list[str]]:
    return [
        [
            row["service"] if row["rule"] == ALL_RULES else "",
            row["rule"],
            cell(row["calls"]),
            cell(row["errors"]),
            cell(row["shown"]),
            cell(row["silent"]),
            cell(row["accepted"]),
            percent(row["acceptance_rate"]),
            cell(row["overridden"]),
            percent(row["override_rate"]),
            _ms(row["median_ms"]),
            _ms(row["p95_ms"]),
            percent(row["fhir_fallback_rate"]) if row["rule"] == ALL_RULES else "",
        ]
        for row in rule_rows(report)
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _silent_section(report: Report) -> str:
    if not report.silent_cards:
        return "Silent phase: no cards were withheld in this period."
    grades = sorted({grade for (_, grade, _, _) in report.silent_cards}, key=lambda grade: (grade == "unknown", grade))
    by_rule: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (service, grade, rule, _), count in report.silent_cards.items():
        by_rule[(service, rule)][grade] += count
    rows = [
        [service, rule, *(cell(counts.get(grade)) for grade in grades), str(counts.total())]
        for (service, rule), counts in sorted(by_rule.items())
    ]
    headers = ("service", "rule", *(f"grade {grade}" for grade in grades), "cards")
    title = "Silent phase: cards that would have been shown, by rule and CRS grade of the call"
    return f"{title}\n{text_table(headers, rows)}\n\n{_silent_by_grade(report)}"


def _silent_by_grade(report: Report) -> str:
    """Cards (not rule mentions) per grade and indicator: what clinicians would have seen."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for (service, grade, indicator), count in report.silent_by_grade.items():
        counts[(service, grade)][indicator] += count
    rows = [
        [service, grade, str(found.total()), *(cell(found.get(level)) for level in ("critical", "warning", "info"))]
        for (service, grade), found in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1] == "unknown", item[0][1])
        )
    ]
    headers = ("service", "CRS grade", "cards", "critical", "warning", "info")
    return "Silent phase: would-be cards by CRS grade and indicator\n" + text_table(headers, rows)
