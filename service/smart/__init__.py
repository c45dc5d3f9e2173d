"""SMART App Launch 2.x (EHR launch) of the CRS timeline: discovery, PKCE, state, token, server-side session."""
