"""FHIR R4 MedicationRequests for suggestions: a new proposal (``create``) or a corrected draft (``update``).

The contract (architecture.md): status draft, intent proposal, subject Patient/{id}, the RxNorm
ingredient coding plus the site's codings, and one dosageInstruction with text, IV route, timing
(frequency/period for a regimen, count 1 for a single dose) and a UCUM doseQuantity (mg, or mg/kg when
the weight is missing).
"""

from __future__ import annotations

from typing import Any

from service.cards.catalog import CardCatalog, OrderTemplate
from service.crs.assessment import RecommendedOrder
from service.crs.order_check import CorrectedDose
from service.fhir.fields import FhirResource

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def dose_quantity(dose_mg: float | None, dose_mg_per_kg: float | None) -> dict[str, Any]:
    """UCUM mg, or mg/kg when no weight is known (never a guessed mg dose)."""
    if dose_mg is not None:
        return {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}
    return {"value": dose_mg_per_kg, "unit": "mg/kg", "system": UCUM, "code": "mg/kg"}


def medication(template: OrderTemplate) -> dict[str, Any]:
    rxnorm = {"system": RXNORM, "code": template.rxnorm, "display": template.display}
    return {"coding": [rxnorm, *(coding.as_fhir() for coding in template.site_codings)], "text": template.display}


def timing(order: RecommendedOrder) -> dict[str, Any]:
    """A single dose is count 1 (tocilizumab: repeat criteria go in the text); a regimen repeats."""
    if order.interval_hours is None:
        repeat: dict[str, Any] = {"count": 1}
        if order.infusion_minutes:
            repeat.update(duration=order.infusion_minutes, durationUnit="min")
        return {"repeat": repeat}
    repeat = {"frequency": 1, "period": order.interval_hours, "periodUnit": "h"}
    if order.interval_max_hours:
        repeat["periodMax"] = order.interval_max_hours
    if order.max_doses:
        repeat.update(count=1, countMax=order.max_doses)
    if order.duration_days:
        repeat["boundsDuration"] = {"value": order.duration_days, "unit": "d", "system": UCUM, "code": "d"}
    return {"repeat": repeat}


def proposal(order: RecommendedOrder, catalog: CardCatalog, patient_id: str, text: str, reason: str) -> FhirResource:
    """A new MedicationRequest for a recommended order (a ``create`` action); ``text`` is the order's rendered
    wording (the dosage text), ``reason`` the catalog's reason text."""
    template = catalog.orders.drugs[order.drug]
    resource: FhirResource = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": medication(template),
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
        "dosageInstruction": [
            {
                "text": text,
                "timing": timing(order),
                "route": {"coding": [catalog.orders.route.as_fhir()]},
                "doseAndRate": [{"doseQuantity": dose_quantity(order.dose_mg, order.dose_mg_per_kg)}],
            }
        ],
    }
    if template.note:
        resource["note"] = [{"text": template.note}]
    return resource


def json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists and scalars): what ``copy.deepcopy`` gives, without its memo and
    dispatch, which cost more than the rest of an order-check card."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def corrected_draft(draft: FhirResource, corrected: CorrectedDose, catalog: CardCatalog, text: str) -> FhirResource:
    """The whole draft with the protocol dose (and drug, when the protocol's drug differs): an ``update``."""
    resource: FhirResource = json_copy(draft)
    template = catalog.orders.drugs.get(corrected.drug)
    if template is not None and corrected.drug not in str(resource.get("medicationCodeableConcept", "")).lower():
        resource["medicationCodeableConcept"] = medication(template)
        resource.pop("medicationReference", None)
    dosages = resource.get("dosageInstruction")
    dosage = dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], dict) else {}
    dosage["text"] = text
    dosage["doseAndRate"] = [{"doseQuantity": dose_quantity(corrected.dose_mg, corrected.dose_mg_per_kg)}]
    if corrected.interval_hours:
        dosage["timing"] = {"repeat": {"frequency": 1, "period": corrected.interval_hours, "periodUnit": "h"}}
    dosage.setdefault("route", {"coding": [catalog.orders.route.as_fhir()]})
    resource["dosageInstruction"] = [dosage, *(dosages[1:] if isinstance(dosages, list) else [])]
    return resource
