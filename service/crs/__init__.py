"""The clinical engine: ASTCT grading of CRS after CAR T-cell therapy and its management (clinical-rules.md).

Pure: functions over frozen values, with ``now`` passed in; it imports only the standard library and pydantic
(``lint-imports`` enforces it). The web layer and the CLI use this surface.
"""

from service.crs.assessment import Assessment
from service.crs.engine import assess, check_drafts
from service.crs.order_check import OrderCheck
from service.crs.policy import Policy
from service.crs.timeline import Timeline

__all__ = ["Assessment", "OrderCheck", "Policy", "Timeline", "assess", "check_drafts"]
