"""CRS_CDS_SILENT and the retention setting, check-config, override reasons offered, policy show."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from service.cards.catalog import load_card_catalog
from service.cards.errors import CatalogError
from service.cards.override_reasons import HL7_SYSTEM
from service.cli import main
from service.rollout.silent import describe
from service.settings import BUNDLED_CATALOG_DIR, Settings

HL7_CATEGORIES = {
    "cds-not-applicable",
    "cds-suboptimal-context",
    "recipient-disagrees-evidence",
    "recipient-concerns-outcomes",
    "does-not-align-preferences",
    "not-convenient-feasible",
}
SERVICES = ("crs-order-select", "crs-order-sign", "crs-patient-view")


@pytest.mark.parametrize(
    ("value", "silent"),
    [
        ("off", ()),
        ("", ()),
        ("all", ("all",)),
        (" crs-order-sign , crs-order-select ", ("crs-order-sign", "crs-order-select")),
    ],
)
def test_silent_setting(value: str, silent: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_SILENT", value)

    assert Settings().silent == silent


@pytest.mark.parametrize("value", ["all,crs-order-sign", "off,crs-order-sign"])
def test_silent_setting_refuses_mixtures(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_SILENT", value)

    with pytest.raises(ValidationError, match="cannot be combined"):
        Settings()


def test_describe_names_the_silent_services_and_refuses_unknown_ones() -> None:
    assert describe((), SERVICES) == "silent mode off"
    assert describe(("all",), SERVICES).endswith("crs-order-select, crs-order-sign, crs-patient-view")
    with pytest.raises(CatalogError, match="unknown service id"):
        describe(("crs-patient-veiw",), SERVICES)


def test_check_config_says_which_services_are_silent(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["check-config"],
        env={"CRS_CDS_SILENT": "crs-patient-view", "CRS_CDS_PUBLIC_BASE_URL": "https://crs.example.org"},
    )

    assert result.exit_code == 0, result.output
    assert "silent services (cards recorded, not shown): crs-patient-view" in result.output


def test_check_config_refuses_a_silent_service_that_does_not_exist(runner: CliRunner) -> None:
    result = runner.invoke(
        main,
        ["check-config"],
        env={"CRS_CDS_SILENT": "crs-patient-veiw", "CRS_CDS_PUBLIC_BASE_URL": "https://crs.example.org"},
    )

    assert result.exit_code == 2
    assert "CRS_CDS_SILENT: unknown service id(s) crs-patient-veiw" in result.output


def test_retention_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRS_CDS_RETENTION_DAYS", "0")

    with pytest.raises(ValidationError, match="retention_days"):
        Settings()


def test_cards_offer_site_reasons_then_the_hl7_categories() -> None:
    catalog = load_card_catalog(BUNDLED_CATALOG_DIR)

    for kind in catalog.kinds.values():
        reasons = kind.entry.override_reasons or ()
        assert reasons[: len(catalog.defaults.override_reasons)] == catalog.defaults.override_reasons
        assert {r.code for r in reasons if r.system == HL7_SYSTEM} == HL7_CATEGORIES
        assert all(reason.display for reason in reasons)


def copied_catalog(tmp_path: Path, offer: str) -> Path:
    folder = tmp_path / "cards"
    shutil.copytree(BUNDLED_CATALOG_DIR, folder)
    path = folder / "override_reasons.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('default = ["site", "hl7"]', offer), encoding="utf-8")
    return folder


def test_reasons_are_configurable_per_card_kind(tmp_path: Path) -> None:
    catalog = load_card_catalog(copied_catalog(tmp_path, 'default = ["site"]\norder-check = ["hl7"]'))

    assert {r.system for r in catalog.kinds["order-check"].entry.override_reasons or ()} == {HL7_SYSTEM}
    assert HL7_SYSTEM not in {r.system for r in catalog.kinds["crs-assessment"].entry.override_reasons or ()}


def test_a_catalog_without_the_file_offers_its_site_reasons(tmp_path: Path) -> None:
    folder = copied_catalog(tmp_path, 'default = ["site", "hl7"]')
    (folder / "override_reasons.toml").unlink()

    catalog = load_card_catalog(folder)

    assert catalog.kinds["icans"].entry.override_reasons == catalog.defaults.override_reasons


def test_an_unknown_card_kind_in_the_offer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="unknown card kind"):
        load_card_catalog(copied_catalog(tmp_path, 'default = ["site"]\nicans-card = ["hl7"]'))


def test_policy_show_renders_the_policy_in_force_with_its_version(runner: CliRunner, tmp_path: Path) -> None:
    from service.settings import BUNDLED_POLICY

    site = tmp_path / "policy.toml"
    text = BUNDLED_POLICY.read_text(encoding="utf-8").replace('version = "2026.1"', 'version = "site-7"')
    site.write_text(text.replace("mg_per_kg = 8", "mg_per_kg = 6"), encoding="utf-8")

    result = runner.invoke(main, ["policy", "show"], env={"CRS_CDS_POLICY": str(site)})

    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Clinical policy site-7")
    assert "| mg_per_kg | 6 |" in result.output
    assert "| tocilizumab | tocilizumab | tocilizumab | 612865 | - | tocilizumab, actemra, tofidence, tyenne |" in (
        result.output
    )
    assert "| temperature | http://loinc.org\\|8310-5, " in result.output
    assert "| labs.ferritin | http://loinc.org\\|2276-4 |" in result.output


def test_policy_show_names_a_bad_policy(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("version = 1\n", encoding="utf-8")

    result = runner.invoke(main, ["policy", "show"], env={"CRS_CDS_POLICY": str(bad)})

    assert result.exit_code == 2
    assert str(bad) in result.output
