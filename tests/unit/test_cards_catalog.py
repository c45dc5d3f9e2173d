"""The card catalog an informatics team edits: every mistake is refused at start-up, naming file and key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from service.cards.catalog import load_card_catalog
from service.cards.errors import CatalogError
from service.cards.render import CardRenderer
from service.cards.validate import validate_catalog
from service.settings import BUNDLED_CATALOG_DIR
from tests.fhir_builders import POLICY, bp, car_t, chart, device, patient, spo2, temp, weight

Edit = Callable[[str], str]


def catalog_with(tmp_path: Path, file: str, edit: Edit) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, target)
    path = target / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return target


def load_and_validate(catalog_dir: Path) -> None:
    validate_catalog(load_card_catalog(catalog_dir), POLICY)


def test_bundled_catalog_is_valid() -> None:
    load_and_validate(BUNDLED_CATALOG_DIR)


BAD_EDITS: list[tuple[str, str, Edit, str]] = [
    (
        "a variable the service does not provide",
        "cards.toml",
        lambda t: t.replace("ICANS grade {{ icans_grade }} with CRS", "ICANS grade {{ icans_score }} with CRS"),
        "kinds.icans: 'icans_score' is undefined",
    ),
    (
        "a summary that can exceed 139 characters",
        "cards.toml",
        lambda t: t.replace(
            'summary = "Suspected HLH/MAS:', "summary = \"{{ organ_findings | join(', ') }} Suspected HLH/MAS:"
        ),
        "kinds.hlh-suspicion.summary: can reach",
    ),
    (
        "an unknown indicator",
        "cards.toml",
        lambda t: t.replace('indicator = "critical"', 'indicator = "urgent"'),
        "kinds.hlh-suspicion.indicator",
    ),
    (
        "a template syntax error",
        "cards.toml",
        lambda t: t.replace("{% for text in steps %}", "{% for text in steps"),
        "kinds.icans.detail: template syntax error",
    ),
    (
        "an unknown card kind",
        "cards.toml",
        lambda t: (
            t + '\n[kinds.sepsis]\nsummary = "x"\ndetail = "y"\ntopic = { system = "s", code = "c", display = "d" }\n'
        ),
        "unknown: ['sepsis']",
    ),
    (
        "a link that is not absolute",
        "cards.toml",
        lambda t: t.replace('url = "https://doi.org/10.1016/j.bbmt.2018.12.758"\ntype', 'url = "doi.org/x"\ntype'),
        "defaults.links.0.url",
    ),
    (
        "appContext on an absolute link",
        "cards.toml",
        lambda t: t.replace('type = "absolute"', 'type = "absolute"\napp_context = "x"'),
        "app_context is only valid",
    ),
    (
        "an override reason without display",
        "cards.toml",
        lambda t: t.replace('display = "Already addressed"', ""),
        "defaults.override_reasons.3.display",
    ),
    (
        "an unknown wording key",
        "cards.toml",
        lambda t: t.replace("[texts]", '[texts]\n"M-G9.magic" = "x"'),
        "texts.M-G9.magic: unknown key",
    ),
    (
        "wording using a parameter that does not exist",
        "cards.toml",
        lambda t: t.replace("[texts]", '[texts]\n"M-G1.neutropenic" = "ANC {{ neutrophils }}"'),
        "texts.M-G1.neutropenic",
    ),
    (
        "a default text using a parameter that does not exist",
        "texts.toml",
        lambda t: t.replace("{{ anc }} x10^9/L", "{{ neutrophils }} x10^9/L"),
        "texts.M-G1.neutropenic",
    ),
    (
        "a wording key without a default text",
        "texts.toml",
        lambda t: t.replace('"M-NO-GMCSF" = ', '"M-NO-GM-CSF" = '),
        "texts.M-NO-GM-CSF: unknown key",
    ),
    (
        "a source label that is not a valid template",
        "cards.toml",
        lambda t: t.replace("therapy), policy {{ policy_version }}", "therapy), policy {{ policy_version"),
        "defaults.source_label: template syntax error",
    ),
    (
        "a non-numeric RxNorm code",
        "orders.toml",
        lambda t: t.replace('rxnorm = "612865"', 'rxnorm = "toci"'),
        "drugs.tocilizumab.rxnorm",
    ),
    (
        "a missing order template",
        "orders.toml",
        lambda t: t.replace("[drugs.methylprednisolone]", "[drugs.prednisone]"),
        "missing order templates for methylprednisolone",
    ),
    (
        "a site coding that makes an invalid MedicationRequest",
        "orders.toml",
        lambda t: t.replace(
            'rxnorm = "3264"',
            'rxnorm = "3264"\nsite_codings = [{ system = "urn:x", code = " bad code ", display = "x" }]',
        ),
        "drugs.dexamethasone: makes an invalid MedicationRequest",
    ),
]


@pytest.mark.parametrize(("case", "file", "edit", "named"), BAD_EDITS, ids=[row[0] for row in BAD_EDITS])
def test_catalog_mistake_is_refused_naming_file_and_key(
    tmp_path: Path, case: str, file: str, edit: Edit, named: str
) -> None:
    catalog_dir = catalog_with(tmp_path, file, edit)

    with pytest.raises(CatalogError) as raised:
        load_and_validate(catalog_dir)

    assert str(catalog_dir / file) in str(raised.value), case
    assert named in str(raised.value)


def test_wording_and_codes_change_without_python(tmp_path: Path) -> None:
    catalog_dir = catalog_with(
        tmp_path,
        "cards.toml",
        lambda t: t.replace(
            "[texts]", '[texts]\n"M-G2-TOCI.supportive-care" = "Bolus 20 mL/kg and oxygen per unit standard."'
        ),
    )
    orders = catalog_dir / "orders.toml"
    orders.write_text(
        orders.read_text().replace(
            'rxnorm = "612865"',
            'rxnorm = "612865"\nsite_codings = [{ system = "urn:oid:1.2.3", code = "TOCI-20", display = "TOCILIZUMAB 20 MG/ML IV" }]',
        )
    )
    renderer = CardRenderer(load_card_catalog(catalog_dir))
    assessment = chart(
        [patient(), car_t(hours_ago=96), weight(70), temp(1, 38.6), bp(1, 85), spo2(1, 95), device(1, "room air")]
    )

    (card,) = renderer.patient_view(assessment, "pat-1")

    assert "Bolus 20 mL/kg and oxygen per unit standard." in card.card["detail"]
    codings = card.card["suggestions"][0]["actions"][0]["resource"]["medicationCodeableConcept"]["coding"]
    assert [c["code"] for c in codings] == ["612865", "TOCI-20"]


def test_every_wording_key_is_documented_with_its_parameters() -> None:
    from service.cards.wording import WORDING_PARAMS

    reference = (Path(__file__).resolve().parents[2] / "docs" / "cards.md").read_text(encoding="utf-8")

    for key, params in WORDING_PARAMS.items():
        listed = ", ".join(f"`{name}`" for name in params) or "-"
        assert f"| `{key}` | {listed} |" in reference, key
