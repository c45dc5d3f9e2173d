"""The engine's one base model: a value that never changes, where an unknown field is an error (a typo in a
site's policy file, or a programming error in the engine), never silently ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
