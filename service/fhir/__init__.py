"""FHIR access: the REST client, parallel fetching, and translation of FHIR JSON to the engine's timeline."""
