"""The services file of the card catalog: validation that names the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.cards.errors import CatalogError
from service.hooks.services import MissingToken, check_prefetch_template, fill_prefetch_template, load_services
from service.settings import BUNDLED_CATALOG_DIR


def test_bundled_catalog_loads_three_services() -> None:
    assert [s.id for s in load_services(BUNDLED_CATALOG_DIR)] == [
        "crs-patient-view",
        "crs-order-select",
        "crs-order-sign",
    ]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("Observation?patient={{context.draftOrders}}", "not a order-sign prefetch token"),
        ("Observation?patient={{context.patientId}}&date=ge{{today() - 1 days}}", "not a order-sign prefetch token"),
        ("Observation?patient={{Patient.id}}", "not a order-sign prefetch token"),
        ("https://evil.example.net/Observation?patient={{context.patientId}}", "not a FHIR read"),
        ("Observation", "not a FHIR read"),
    ],
)
def test_prefetch_templates_outside_cds_hooks_2_are_rejected(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_prefetch_template("order-sign", "observations", template)


def test_user_token_is_allowed() -> None:
    check_prefetch_template("patient-view", "user", "Practitioner/{{userPractitionerId}}")


def copy_catalog(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, target)
    return target


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda text: text.replace('hook = "order-sign"', 'hook = "order-dispatch"'), "service.2.hook"),
        (
            lambda text: text.replace("{{context.patientId}}&_sort=-date", "{{context.selections}}&_sort=-date"),
            "observations",
        ),
        (lambda text: text.replace("[prefetch]", "[prefetch\n"), "not valid TOML"),
        (
            lambda text: (
                text + '\n[[service]]\nid = "crs-order-sign"\nhook = "order-sign"\ntitle = "t"\ndescription = "d"\n'
            ),
            "unique",
        ),
        (
            lambda text: text.replace('title = "CAR T-cell therapy: CRS order check on selection"', 'titel = "x"'),
            "service.1",
        ),
    ],
)
def test_invalid_services_file_names_file_and_key(tmp_path: Path, edit: object, named: str) -> None:
    catalog = copy_catalog(tmp_path)
    path = catalog / "services.toml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]

    with pytest.raises(CatalogError) as raised:
        load_services(catalog)

    assert str(path) in str(raised.value)
    assert named in str(raised.value)


def test_missing_services_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_services(tmp_path)


@pytest.mark.parametrize(
    ("template", "context", "filled"),
    [
        ("Patient/{{context.patientId}}", {"patientId": "p 1"}, "Patient/p%201"),
        ("Observation?patient={{context.patientId}}&_count=5", {"patientId": "p1"}, "Observation?patient=p1&_count=5"),
        ("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/doc-1"}, "Practitioner/doc-1"),
    ],
)
def test_prefetch_tokens_are_filled_from_the_context(template: str, context: dict[str, str], filled: str) -> None:
    assert fill_prefetch_template(template, context) == filled


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("Patient/{{context.patientId}}", {}),
        ("PractitionerRole/{{userPractitionerRoleId}}", {"userId": "Practitioner/doc-1"}),
    ],
)
def test_a_token_without_a_value_is_refused(template: str, context: dict[str, str]) -> None:
    with pytest.raises(MissingToken):
        fill_prefetch_template(template, context)
