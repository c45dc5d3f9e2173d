"""Plain-text and CSV tables for the command-line reports (readable in a terminal, pasteable in a ticket)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any


def cell(value: Any) -> str:
    """A value as a reader sees it: rates as percentages, none as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value) or "-"
    return str(value)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    widths = [max([len(header), *(len(row[index]) for row in rows)]) for index, header in enumerate(headers)]
    numeric = [all(_is_number(row[index]) for row in rows) and bool(rows) for index in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), "  ".join("-" * width for width in widths), *(line(row) for row in rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    escape = [[text.replace("|", "\\|") for text in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in escape)])


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    return out.getvalue()


def _is_number(text: str) -> bool:
    stripped = text.removesuffix(" %")
    try:
        float(stripped)
    except ValueError:
        return stripped in ("-", "")
    return True
