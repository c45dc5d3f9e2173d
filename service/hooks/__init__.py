"""The CDS Hooks web layer: blueprints for discovery, invocation and feedback; request models."""
