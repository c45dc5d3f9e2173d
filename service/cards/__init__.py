"""Rendering CDS Hooks cards and suggestions from the engine results and the card catalog."""
