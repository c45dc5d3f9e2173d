"""Recognising the policy's drugs in MedicationAdministration and MedicationRequest resources."""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.crs.policy import Policy
from service.fhir.fields import FhirDict, codings, concept_texts

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

    def match_medication(self, resource: FhirDict) -> str | None:
        """``medication[x]``: a CodeableConcept, or a reference to a contained Medication or with a display."""
        if "medicationCodeableConcept" in resource:
            return self.match_concept(resource["medicationCodeableConcept"])
        reference = resource.get("medicationReference")
        if not isinstance(reference, dict):
            return None
        contained = _contained(resource, reference.get("reference"))
        if contained is not None:
            return self.match_concept(contained.get("code"))
        display = reference.get("display")
        return self.match_name(display) if isinstance(display, str) else None


def _contained(resource: FhirDict, reference: object) -> FhirDict | None:
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    for item in resource.get("contained") or []:
        if isinstance(item, dict) and item.get("id") == reference[1:]:
            return item
    return None
