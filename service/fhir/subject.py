"""R-SUBJECT: every resource of a call must belong to the call's patient.

FHIR names the patient in ``Patient.id`` and in the ``subject`` (Observation, MedicationAdministration,
MedicationRequest) or ``patient`` reference, relative (``Patient/123``) or absolute
(``https://ehr.example/fhir/Patient/123``), sometimes with a version (``Patient/123/_history/2``). A
resource without a subject came from a patient-scoped query and is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.fhir.fields import FhirResource, code_of, reference_of

SUBJECT_TYPES = frozenset({"Observation", "MedicationAdministration", "MedicationRequest"})


@dataclass(frozen=True)
class SubjectMismatch:
    """A resource that names another patient, and the prefetch key (or other place) it came under."""

    key: str
    resource: str
    patient: str


def patient_of(resource: FhirResource) -> str | None:
    """The patient id a resource names, or None when it names none (or is not a type that names one)."""
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return None
    if kind == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    if kind not in SUBJECT_TYPES:
        return None
    reference = resource.get("subject") or resource.get("patient")
    target = reference.get("reference") if isinstance(reference, dict) else None
    return patient_id_of_reference(target) if isinstance(target, str) else None


def patient_id_of_reference(reference: str) -> str:
    """``Patient/{id}`` of a relative or absolute reference, version suffix dropped; anything else as is."""
    parts = reference.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Patient":
        return parts[-1]
    return reference  # a reference to something that is not a Patient never matches a patient id


def subject_mismatches(
    resources_by_key: Mapping[str, Iterable[FhirResource]], patient_id: str
) -> list[SubjectMismatch]:
    """R-SUBJECT: the resources, by key, that name a patient other than ``patient_id``."""
    found = []
    usual = f"Patient/{patient_id}" if "/" not in patient_id else None  # built once, compared per resource
    for key, resources in resources_by_key.items():
        for resource in resources:
            if _names_usually(resource, usual):
                continue
            named = patient_of(resource)
            if named is not None and named != patient_id:
                found.append(SubjectMismatch(key, reference_of(resource), named))
    return found


def _names_usually(resource: FhirResource, usual: str | None) -> bool:
    """``subject.reference`` is ``usual`` (``Patient/{patient_id}``): how nearly every resource names its patient,
    settled without parsing the reference (an id holding ``/`` has no ``usual``: it is left to ``patient_of``)."""
    subject = resource.get("subject")
    return (
        usual is not None
        and type(subject) is dict
        and subject.get("reference") == usual
        and code_of(resource.get("resourceType")) in SUBJECT_TYPES
    )
