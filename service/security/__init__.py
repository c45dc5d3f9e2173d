"""Authentication of the calling EHR (CDS Hooks 2.0 JWT) and its trust settings."""
