"""Loading the clinical policy TOML (bundled default, or ``CRS_CDS_POLICY``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from service.crs.policy import Policy
from service.settings import BUNDLED_POLICY


class PolicyError(Exception):
    """The policy file is unreadable or invalid; the message names the file and the key."""


def load_policy(path: Path = BUNDLED_POLICY) -> Policy:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return Policy.model_validate(raw)
    except OSError as error:
        raise PolicyError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path}: not valid TOML ({error})") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors(include_url=False, include_input=False)
        )
        raise PolicyError(f"{path}: {problems}") from error
