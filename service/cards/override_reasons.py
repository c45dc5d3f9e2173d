"""``cards/override_reasons.toml``: which override reasons each card kind offers (site codes, HL7 codes).

The "site" set is what cards.toml already holds (a kind's own ``override_reasons``, else the defaults);
the "hl7" set is the HL7 CDS Hooks non-adherence reason codes listed in this file. A catalog without the
file offers the site set only, as before.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.cards.errors import CatalogError

if TYPE_CHECKING:
    from service.cards.catalog import Coding, Defaults, KindEntry

HL7_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
FILE_NAME = "override_reasons.toml"
ReasonSet = Literal["site", "hl7"]
SITE_ONLY: tuple[ReasonSet, ...] = ("site",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hl7Reason(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z-]*$")
    display: str = Field(min_length=1, max_length=200)


class OverrideReasonsFile(_Strict):
    offer: dict[str, tuple[ReasonSet, ...]] = Field(default_factory=lambda: {"default": SITE_ONLY})
    hl7: tuple[Hl7Reason, ...] = ()

    def sets_for(self, kind: str) -> tuple[ReasonSet, ...]:
        return self.offer.get(kind, self.offer.get("default", SITE_ONLY))


def load_override_reasons(catalog_dir: Path, kinds: Collection[str]) -> OverrideReasonsFile:
    path = catalog_dir / FILE_NAME
    if not path.exists():
        return OverrideReasonsFile()
    try:
        loaded = OverrideReasonsFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogError(f"{path}: cannot read ({error})") from error
    except ValidationError as error:
        raise CatalogError.from_validation(path, error) from error
    unknown = sorted(set(loaded.offer) - set(kinds) - {"default"})
    if unknown:
        raise CatalogError(f"{path}: offer: unknown card kind(s) {', '.join(unknown)}")
    return loaded


def with_offered_reasons(name: str, entry: KindEntry, defaults: Defaults, offer: OverrideReasonsFile) -> KindEntry:
    """The kind's entry with the reasons it offers, in the order of its sets."""
    from service.cards.catalog import Coding

    site = entry.override_reasons or defaults.override_reasons
    hl7 = tuple(Coding(system=HL7_SYSTEM, code=item.code, display=item.display) for item in offer.hl7)
    reasons: tuple[Coding, ...] = ()
    for chosen in offer.sets_for(name):
        reasons += site if chosen == "site" else hl7
    return entry.model_copy(update={"override_reasons": reasons})
