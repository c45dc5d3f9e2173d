"""The clinical policy file: bundled default, versioned, strict about keys and values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from service.policy_file import PolicyError, load_policy
from service.settings import BUNDLED_POLICY

POLICY_TEXT = BUNDLED_POLICY.read_text(encoding="utf-8")


def test_bundled_policy_has_the_rules_defaults() -> None:
    policy = load_policy()

    assert policy.version == "2026.1"
    assert (policy.fever.threshold_c, policy.tocilizumab.mg_per_kg, policy.tocilizumab.max_mg) == (38.0, 8, 800)
    assert (
        policy.tocilizumab.max_total_doses,
        policy.tocilizumab.max_doses_per_24h,
        policy.tocilizumab.min_interval_hours,
    ) == (4, 3, 8)
    assert policy.support.low_flow_max_l_min == 6.0
    assert policy.hlh.ferritin_above_ng_ml == 10000
    assert policy.drugs["tocilizumab"].rxnorm == ("612865",)
    assert policy.drugs["vasopressin"].roles == ("vasopressor", "vasopressin")


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: t.replace("threshold_c = 38.0", "threshold_c = 38.0\nthreshold_f = 100.4"), "fever.threshold_f"),
        (lambda t: t.replace("max_mg = 800", "max_mg = -800"), "tocilizumab.max_mg"),
        (lambda t: t.replace("mg_per_kg = 8\n", "mg_per_kg = 80\n"), "tocilizumab"),
        (
            lambda t: t.replace("max_doses_per_24h = 3", "max_doses_per_24h = 5"),
            "max_doses_per_24h cannot exceed max_total_doses",
        ),
        (
            lambda t: t.replace(
                "{ dose_mg = 60, interval_hours = 12 }", "{ dose_mg = 60, interval_hours = 12, days = 2 }"
            ),
            "methylprednisolone_taper",
        ),
        (lambda t: t.replace('roles = ["tocilizumab"]', 'roles = ["il6"]'), "drugs.tocilizumab.roles"),
        (
            lambda t: t.replace(
                '"http://snomed.info/sct|722742002" = "room-air"', '"http://snomed.info/sct|722742002" = "outdoors"'
            ),
            "codes.oxygen_devices",
        ),
        (lambda t: t.replace('version = "2026.1"', ""), "version"),
        (lambda t: t.replace('time_zone = "UTC"', 'time_zone = "CET+1"'), "time_zone"),
        (lambda t: t.replace('time_zone = "UTC"', 'time_zone = "Europe/Atlantis"'), "not an IANA time zone name"),
        (lambda t: t.replace('time_zone = "UTC"', 'time_zone = "../../etc/passwd"'), "not an IANA time zone name"),
        (lambda t: t + "\n[extra", "not valid TOML"),
    ],
)
def test_invalid_policy_is_refused_naming_the_key(tmp_path: Path, edit: object, named: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(edit(POLICY_TEXT))  # type: ignore[operator]

    with pytest.raises(PolicyError) as raised:
        load_policy(path)

    assert str(path) in str(raised.value)
    assert named in str(raised.value)


def test_every_policy_key_is_documented() -> None:
    reference = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text(encoding="utf-8")
    policy = tomllib.loads(POLICY_TEXT)
    tables_documented_whole = {
        "labs",
        "baseline_panel",
        "oxygen_devices",
        "dexamethasone_equivalents",
        "label_prophylaxis",
    }

    assert "`version`" in reference
    assert "`time_zone`" in reference
    for section, values in policy.items():
        if section in ("version", "time_zone", "drugs"):
            continue
        for key in values:
            documented = f"`[{section}.{key}]`" if key in tables_documented_whole else f"`[{section}]` `{key}`"
            assert documented in reference, documented


def test_an_iana_time_zone_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY_TEXT.replace('time_zone = "UTC"', 'time_zone = "Europe/Berlin"'))

    assert load_policy(path).time_zone == "Europe/Berlin"
