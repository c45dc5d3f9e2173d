"""``crs-cds codes report``: the codes calls carried that no policy entry recognised (R-UNIDENTIFIED).

Each code comes with how often it was seen, in how many calls, and example displays, then a TOML snippet
whose lines a pharmacist pastes into the right list of the site's policy. Which drug or which code list a
code belongs to is the pharmacist's decision: the snippet names it with a placeholder, never a guess.

How a line is pasted: medication RxNorm codes go into a drug's ``rxnorm`` list; a medication named only by
text or by a non-RxNorm coding goes into the drug's ``names`` list (matched as words in the text); an
Observation code goes, as ``"system|code"``, into a ``[codes]`` list such as ``temperature``. Each line ends
with a comma and a comment, which TOML allows inside an array: pasted just after the list's opening ``[``
it is valid whatever the list already holds, even when it is empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from service.rollout.tables import text_table
from service.storage.models import CallRecord

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MEDICATION_TYPES = ("MedicationAdministration", "MedicationRequest")
EXAMPLES = 3
DRUG_PLACEHOLDER = "<drug key, chosen by the pharmacist>"
LIST_PLACEHOLDER = "<code list, chosen by the pharmacist>"


@dataclass
class SeenCode:
    resource_type: str
    system: str | None
    code: str | None
    times: int = 0
    calls: int = 0
    displays: list[str] = field(default_factory=list)

    @property
    def is_medication(self) -> bool:
        return self.resource_type in MEDICATION_TYPES

    def label(self) -> str:
        return f"{self.system or '(no system)'}|{self.code or '(no code)'}"


def unrecognised_codes(calls: Iterable[CallRecord]) -> list[SeenCode]:
    """Every code, most frequent first; a code's displays are kept in the order first seen."""
    seen: dict[tuple[str, str | None, str | None], SeenCode] = {}
    for call in calls:
        for key, items in _group_call(call).items():
            entry = seen.setdefault(key, SeenCode(*key))
            entry.calls += 1
            for item in items:
                count = item.get("count")
                entry.times += count if isinstance(count, int) and count > 0 else 1
                display = item.get("display")
                if display and display not in entry.displays and len(entry.displays) < EXAMPLES:
                    entry.displays.append(str(display))
    return sorted(seen.values(), key=lambda entry: (-entry.times, entry.resource_type, entry.label()))


def _group_call(call: CallRecord) -> dict[tuple[str, str | None, str | None], list[dict[str, object]]]:
    groups: dict[tuple[str, str | None, str | None], list[dict[str, object]]] = {}
    for item in call.unrecognised_codes:
        key = (str(item.get("resource_type")), _opt(item.get("system")), _opt(item.get("code")))
        groups.setdefault(key, []).append(item)
    return groups


def _opt(value: object) -> str | None:
    return str(value) if value is not None else None


def codes_table(codes: Sequence[SeenCode]) -> str:
    rows = [
        [entry.resource_type, entry.label(), str(entry.times), str(entry.calls), "; ".join(entry.displays) or "-"]
        for entry in codes
    ]
    return text_table(("resource", "system|code", "times", "calls", "example displays"), rows)


def snippet(codes: Sequence[SeenCode]) -> str:
    """The TOML lines to paste, grouped by the kind of list they go into."""
    sections = [
        _section(
            f"Medication RxNorm codes: paste just after `rxnorm = [` in [drugs.{DRUG_PLACEHOLDER}]",
            [_line(json.dumps(entry.code), entry) for entry in codes if entry.is_medication and _is_rxnorm(entry)],
        ),
        _section(
            f"Medication names (no RxNorm code): paste just after `names = [` in [drugs.{DRUG_PLACEHOLDER}]",
            [
                _line(json.dumps(name.lower()), entry)
                for entry in codes
                if entry.is_medication
                for name in _names(entry)
            ],
        ),
        _section(
            f"Observation codes: paste just after `{LIST_PLACEHOLDER} = [` in [codes] (e.g. temperature, "
            "systolic, spo2, fio2, weight), [codes.labs] or [codes.baseline_panel]",
            [_line(json.dumps(entry.label()), entry) for entry in codes if not entry.is_medication and _codable(entry)],
        ),
    ]
    unmappable = [entry for entry in codes if not _mappable(entry)]
    if unmappable:
        sections.append(_unmappable(unmappable))
    return "\n\n".join(section for section in sections if section)


def _section(title: str, lines: list[str]) -> str:
    """The heading and its lines; a value already listed (the same name from two resource types) once."""
    unique = list({line.split(",  # ")[0]: line for line in reversed(lines)}.values())[::-1]
    return f"# {title}\n" + "\n".join(unique) if unique else ""


def _line(value: str, entry: SeenCode) -> str:
    examples = "; ".join(entry.displays) or "no display"
    note = f"{entry.resource_type}, {entry.times} times in {entry.calls} calls: {examples}"
    return f"  {value},  # {_comment(note)}"


def _comment(text: str) -> str:
    return " ".join(text.split())[:200]  # one line: a newline in a display would end the comment


def _is_rxnorm(entry: SeenCode) -> bool:
    return entry.system == RXNORM and bool(entry.code and entry.code.strip().isdigit())


def _names(entry: SeenCode) -> list[str]:
    """A name only when no RxNorm code can carry the mapping: the matcher reads RxNorm codes and text."""
    return [] if _is_rxnorm(entry) else [" ".join(display.split()) for display in entry.displays[:1]]


def _codable(entry: SeenCode) -> bool:
    return bool(entry.system and entry.code and not any(c.isspace() for c in entry.label()))


def _mappable(entry: SeenCode) -> bool:
    return bool(_is_rxnorm(entry) or _names(entry)) if entry.is_medication else _codable(entry)


def _unmappable(entries: Sequence[SeenCode]) -> str:
    lines = [f"#   {entry.resource_type} {entry.label()} ({entry.times} times)" for entry in entries]
    return "# Not mappable in the policy (no system and code, or no RxNorm code and no display): ask the EHR\n" + (
        "# team to send a coded value\n" + "\n".join(lines)
    )
