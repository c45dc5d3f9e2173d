"""``crs-cds policy show``: the policy in force as Markdown tables a pharmacist can review and sign off.

Thresholds, doses and windows by section (the key names carry their units, docs/policy.md explains each),
then the drugs with the codes and names that recognise them, then every code list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.crs.policy import Policy
from service.rollout.tables import cell, markdown_table

LIST_SECTIONS = ("codes", "drugs")


def policy_markdown(policy: Policy, path: Path) -> str:
    parts = [f"# Clinical policy {policy.version}", f"File: `{path}`. Key by key reference: docs/policy.md."]
    values = policy.model_dump(mode="json")
    for section, content in values.items():
        if isinstance(content, dict) and section not in LIST_SECTIONS:
            parts.append(f"## [{section}]\n\n" + markdown_table(("key", "value"), _value_rows(content)))
    parts.append("## Drugs\n\n" + _drugs(values["drugs"]))
    parts.append("## Code lists\n\n" + markdown_table(("list", "codes"), _code_rows(values["codes"])))
    return "\n\n".join(parts) + "\n"


def _value_rows(content: dict[str, Any]) -> list[list[str]]:
    return [[key, _value(value)] for key, value in content.items()]


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{key} = {_value(item)}" for key, item in value.items())
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return " then ".join("(" + _value(item) + ")" for item in value)
    return cell(value)


def _drugs(drugs: dict[str, dict[str, Any]]) -> str:
    headers = ("key", "display", "roles", "RxNorm", "RxNorm (unverified)", "names", "early steroid")
    rows = [
        [
            key,
            drug["display"],
            cell(drug["roles"]),
            cell(drug["rxnorm"]),
            cell(drug["rxnorm_unverified"]),
            cell(drug["names"]),
            "yes" if drug["early_steroid"] else "",
        ]
        for key, drug in drugs.items()
    ]
    return markdown_table(headers, rows)


def _code_rows(codes: dict[str, Any], prefix: str = "") -> list[list[str]]:
    rows: list[list[str]] = []
    for name, value in codes.items():
        if isinstance(value, dict) and all(isinstance(item, list) for item in value.values()):
            rows.extend(_code_rows(value, f"{prefix}{name}."))
        else:
            rows.append([prefix + name, _value(value)])
    return rows
