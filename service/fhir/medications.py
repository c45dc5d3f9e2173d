"""Recognising the policy's drugs in MedicationAdministration and MedicationRequest resources."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.crs.policy import Policy
from service.fhir.fields import FhirResource, array_of, codings, concept_texts

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass(frozen=True)
class DrugMatcher:
    """Maps RxNorm codes and names to policy drug keys. Build once per policy; matching is cheap."""

    by_code: dict[str, str]
    by_name: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def from_policy(cls, policy: Policy) -> DrugMatcher:
        by_code = {code: key for key, drug in policy.drugs.items() for code in drug.rxnorm}
        names = sorted(
            ((name.lower(), key) for key, drug in policy.drugs.items() for name in drug.names),
            key=lambda pair: -len(pair[0]),  # longest first: "norepinephrine" before "epinephrine"
        )
        by_name = tuple((re.compile(rf"(?<![a-z]){re.escape(name)}(?![a-z])"), key) for name, key in names)
        return cls(by_code, by_name)

    def match_concept(self, concept: object) -> str | None:
        """Drug key by verified RxNorm code first, then by name in the text or displays.

        Codes listed as unverified in the policy are not in ``by_code``: they match by name only.
        """
        for coding in codings(concept):
            if coding.get("system") == RXNORM and isinstance(coding.get("code"), str):
                key = self.by_code.get(coding["code"].strip())
                if key:
                    return key
        return self.match_name(" | ".join(concept_texts(concept)))

    def match_name(self, text: str) -> str | None:
        lowered = text.lower()
        return next((key for pattern, key in self.by_name if pattern.search(lowered)), None)

    def match_medication(self, resource: FhirResource, fetched: Mapping[str, FhirResource] | None = None) -> str | None:
        """``medication[x]`` of an administration or order, read through ``medication_concept``."""
        return self.match_concept(medication_concept(resource, fetched or {}))


def medication_concept(resource: FhirResource, fetched: Mapping[str, FhirResource]) -> FhirResource:
    """The CodeableConcept that names the drug of ``medication[x]``.

    FHIR R4 allows ``medicationCodeableConcept`` or ``medicationReference``. A reference is read from a
    contained Medication (``#id``), else from a Medication fetched from the FHIR server (``fetched`` maps
    ``Medication/{id}`` to it), and the reference's ``display`` is added as text either way: EHRs often send
    only a display. An empty dict means nothing names the drug (R-UNIDENTIFIED: never guessed).
    """
    if isinstance(resource.get("medicationCodeableConcept"), dict):
        return dict(resource["medicationCodeableConcept"])
    reference = resource.get("medicationReference")
    if not isinstance(reference, dict):
        return {}
    target = reference.get("reference")
    medication = _contained(resource, target) or fetched.get(medication_key(target) or "")
    concept = dict(medication.get("code") or {}) if isinstance(medication, dict) else {}
    display = reference.get("display")
    if isinstance(display, str) and display.strip():
        text = concept.get("text")
        concept["text"] = f"{text} | {display}" if isinstance(text, str) else display
    return concept


def medication_key(reference: object) -> str | None:
    """``Medication/{id}`` of a relative or absolute reference to a Medication not contained; else None."""
    if not isinstance(reference, str) or reference.startswith("#"):
        return None
    parts = reference.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != "Medication" or not parts[-1]:
        return None
    return f"Medication/{parts[-1]}"


def missing_medication_references(resources: Iterable[FhirResource]) -> list[str]:
    """``Medication/{id}`` of every ``medicationReference`` that neither a contained Medication nor a
    Medication among ``resources`` (a search's ``_include``) answers: they are fetched from the FHIR server."""
    chart = list(resources)
    present = {f"Medication/{r['id']}" for r in chart if r.get("resourceType") == "Medication" and "id" in r}
    wanted: dict[str, None] = {}
    for resource in chart:
        reference = resource.get("medicationReference")
        target = reference.get("reference") if isinstance(reference, dict) else None
        key = medication_key(target)
        if key is not None and key not in present and _contained(resource, target) is None:
            wanted[key] = None
    return list(wanted)


def _contained(resource: FhirResource, reference: object) -> FhirResource | None:
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    for item in array_of(resource.get("contained")):
        if isinstance(item, dict) and item.get("id") == reference[1:]:
            return item
    return None
