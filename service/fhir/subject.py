"""R-SUBJECT: every resource of a call must belong to the call's patient.

FHIR names the patient in ``Patient.id`` and in the ``subject`` (Observation, MedicationAdministration,
MedicationRequest) or ``patient`` reference, relative (``Patient/123``) or absolute
(``https://ehr.example/fhir/Patient/123``), sometimes with a version (``Patient/123/_history/2``). A
resource without a subject came from a patient-scoped query and is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.fhir.fields import FhirResource, reference_of

# A tuple, looked up by equality: a ``resourceType`` sent as a list must not reach a set.
SUBJECT_TYPES = ("MedicationAdministration", "MedicationRequest", "Observation")


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
    for key, resources in resources_by_key.items():
        for resource in _unsettled(resources, patient_id):
            named = patient_of(resource)
            if named is not None and named != patient_id:
                found.append(SubjectMismatch(key, reference_of(resource), named))
    return found


def _unsettled(resources: Iterable[FhirResource], patient_id: str) -> list[FhirResource]:
    """The resources whose ``subject.reference`` is not simply ``Patient/{patient_id}``, how nearly every resource
    names its patient: those are settled in one comprehension, without parsing the reference. An id holding
    ``/`` settles nothing (``patient_of`` reads every resource)."""
    if "/" in patient_id:
        return list(resources)
    usual = f"Patient/{patient_id}"
    return [
        resource
        for resource in resources
        if not (
            type(subject := resource.get("subject")) is dict
            and subject.get("reference") == usual
            and resource.get("resourceType") in SUBJECT_TYPES
        )
    ]
