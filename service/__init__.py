"""crs-cds: a CDS Hooks 2.0 service grading cytokine release syndrome after CAR T-cell therapy."""

__version__ = "0.1.0"
