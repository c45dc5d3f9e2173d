"""The card catalog an informatics team edits (``cards/``): loaded and validated at start-up."""

from service.catalog.errors import CatalogError
from service.catalog.services import HOOK_CONTEXT_TOKENS, ServiceDefinition, load_services

__all__ = ["HOOK_CONTEXT_TOKENS", "CatalogError", "ServiceDefinition", "load_services"]
