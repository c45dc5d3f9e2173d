"""The card catalog files ``cards.toml`` (card kinds, site wording overrides), ``texts.toml`` (the default
wording of every key) and ``orders.toml`` (order templates).

Loaded once at start-up into frozen models with compiled templates; every error names the file and key.
Templates run in Jinja2's sandbox with undefined variables as errors: a catalog is data, not code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from jinja2 import Template, TemplateSyntaxError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.cards.errors import CatalogError
from service.cards.override_reasons import load_override_reasons, with_offered_reasons
from service.cards.templates import Text, compile_source
from service.crs.assessment import Indicator

CARD_KINDS = ("crs-assessment", "hlh-suspicion", "icans", "order-check")
REQUIRED_ORDER_DRUGS = ("tocilizumab", "dexamethasone", "methylprednisolone")
Compiled = TypeVar("Compiled")
BUNDLED_TEXTS = Path(__file__).resolve().parents[2] / "cards" / "texts.toml"


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return value


AbsoluteUrl = Annotated[str, AfterValidator(_absolute_url)]


class CatalogModel(BaseModel):
    """A table of the catalog: an unknown key is a typo an informatics team must hear about."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(CatalogModel):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = Field(min_length=1)

    def as_fhir(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


class Link(CatalogModel):
    label: str = Field(min_length=1)
    url: AbsoluteUrl
    type: Literal["absolute", "smart"]
    app_context: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _context_only_for_smart(self) -> Link:
        if self.app_context is not None and self.type != "smart":
            raise ValueError("app_context is only valid for links of type smart")
        return self

    def as_cds(self) -> dict[str, str]:
        link = {"label": self.label, "url": self.url, "type": self.type}
        if self.app_context:
            link["appContext"] = self.app_context
        return link


class Defaults(CatalogModel):
    source_label: str = Field(min_length=1, description="template: receives policy_version")
    source_url: AbsoluteUrl
    source_icon: AbsoluteUrl | None = None
    selection_behavior: Literal["any", "at-most-one"] = "any"
    links: tuple[Link, ...] = ()
    smart_app: Link | None = None
    override_reasons: tuple[Coding, ...] = ()


class KindEntry(CatalogModel):
    topic: Coding
    summary: str = Field(min_length=1)
    detail: str = Field(min_length=1)
    indicator: Indicator = "info"
    links: tuple[Link, ...] | None = None
    override_reasons: tuple[Coding, ...] | None = None


class CardsFile(CatalogModel):
    defaults: Defaults
    kinds: dict[str, KindEntry]
    texts: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_kinds(self) -> CardsFile:
        unknown = sorted(set(self.kinds) - set(CARD_KINDS))
        missing = sorted(set(CARD_KINDS) - set(self.kinds))
        if unknown or missing:
            raise ValueError(f"kinds must be exactly {', '.join(CARD_KINDS)} (unknown: {unknown}, missing: {missing})")
        return self


class OrderTemplate(CatalogModel):
    display: str = Field(min_length=1)
    rxnorm: str = Field(pattern=r"^\d+$")
    site_codings: tuple[Coding, ...] = ()
    note: str | None = Field(default=None, min_length=1)


class OrdersFile(CatalogModel):
    route: Coding
    drugs: dict[str, OrderTemplate]

    @model_validator(mode="after")
    def _required_drugs(self) -> OrdersFile:
        missing = [drug for drug in REQUIRED_ORDER_DRUGS if drug not in self.drugs]
        if missing:
            raise ValueError(f"drugs: missing order templates for {', '.join(missing)}")
        return self


@dataclass(frozen=True)
class CompiledKind:
    name: str
    entry: KindEntry
    summary: Template
    detail: Template


class TextsFile(CatalogModel):
    texts: dict[str, str]


@dataclass(frozen=True)
class CardCatalog:
    defaults: Defaults
    kinds: dict[str, CompiledKind]
    texts: dict[str, Text]
    orders: OrdersFile
    cards_path: Path
    orders_path: Path
    source_label: Template
    overridden: frozenset[str] = frozenset()
    texts_path: Path | None = None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{path}: not valid TOML ({error})") from error


def compile_template(path: Path, key: str, source: str) -> Template:
    return _compiled(path, key, source, compile_source)


def compile_text(path: Path, key: str, source: str) -> Text:
    return _compiled(path, key, source, Text.compile)


def _compiled(path: Path, key: str, source: str, compile_: Callable[[str], Compiled]) -> Compiled:
    try:
        return compile_(source.strip("\n"))
    except TemplateSyntaxError as error:
        raise CatalogError(f"{path}: {key}: template syntax error on line {error.lineno}: {error.message}") from error


def load_card_catalog(catalog_dir: Path) -> CardCatalog:
    """Read, validate and compile ``cards.toml`` and ``orders.toml`` (rendering checks: service.cards.validate)."""
    cards_path, orders_path = catalog_dir / "cards.toml", catalog_dir / "orders.toml"
    try:
        cards = CardsFile.model_validate(_read_toml(cards_path))
    except ValidationError as error:
        raise CatalogError.from_validation(cards_path, error) from error
    try:
        orders = OrdersFile.model_validate(_read_toml(orders_path))
    except ValidationError as error:
        raise CatalogError.from_validation(orders_path, error) from error
    offer = load_override_reasons(catalog_dir, cards.kinds)
    kinds = {
        name: CompiledKind(
            name,
            with_offered_reasons(name, entry, cards.defaults, offer),
            compile_template(cards_path, f"kinds.{name}.summary", entry.summary),
            compile_template(cards_path, f"kinds.{name}.detail", entry.detail),
        )
        for name, entry in cards.kinds.items()
    }
    texts_path = catalog_dir / "texts.toml"
    if not texts_path.exists():  # a site's folder may hold only its overrides (cards.toml [texts])
        texts_path = BUNDLED_TEXTS
    try:
        defaults = TextsFile.model_validate(_read_toml(texts_path))
    except ValidationError as error:
        raise CatalogError.from_validation(texts_path, error) from error
    texts = {key: compile_text(texts_path, f"texts.{key}", text) for key, text in defaults.texts.items()}
    texts |= {key: compile_text(cards_path, f"texts.{key}", text) for key, text in cards.texts.items()}
    label = compile_template(cards_path, "defaults.source_label", cards.defaults.source_label)
    return CardCatalog(
        cards.defaults, kinds, texts, orders, cards_path, orders_path, label, frozenset(cards.texts), texts_path
    )
