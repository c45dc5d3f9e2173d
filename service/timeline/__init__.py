"""The CRS timeline: data layers from the engine, the chart, the page and the card link (docs/timeline.md)."""
