"""Test EHR identities: keys, a clients file that trusts them, and signed CDS Hooks JWTs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

ISSUER = "https://ehr.example.org"
KID_EC = "ehr-es384"
KID_RSA = "ehr-rs384"
TEST_BASE = "http://localhost"


@dataclass(frozen=True)
class EhrKeys:
    ec_private: ec.EllipticCurvePrivateKey
    rsa_private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> EhrKeys:
        return cls(
            ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_private.public_key()))
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_private.public_key()))
        return {
            "keys": [
                {**ec_jwk, "kid": KID_EC, "alg": "ES384", "use": "sig"},
                {**rsa_jwk, "kid": KID_RSA, "alg": "RS384", "use": "sig"},
            ]
        }

    def sign(
        self,
        audience: str,
        *,
        alg: str = "ES384",
        claims: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "sub": "epic-client-id",
        }
        payload.update(claims or {})
        key = self.ec_private if alg.startswith("ES") else self.rsa_private
        header = {"kid": KID_EC if alg.startswith("ES") else KID_RSA, "typ": "JWT", **(headers or {})}
        return jwt.encode(payload, key, algorithm=alg, headers=header)


def write_clients_file(path: Path, keys: EhrKeys, fhir_servers: list[str]) -> Path:
    servers = ", ".join(json.dumps(url) for url in fhir_servers)
    jwks = json.dumps(keys.jwks())
    path.write_text(
        f'[[client]]\nissuer = "{ISSUER}"\nfhir_servers = [{servers}]\njwks = {_toml_inline(jwks)}\n', encoding="utf-8"
    )
    return path


def _toml_inline(jwks_json: str) -> str:
    """A JWKS as a TOML inline table (TOML has no JSON literal)."""
    data = json.loads(jwks_json)
    keys = ", ".join("{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in key.items()) + " }" for key in data["keys"])
    return "{ keys = [" + keys + "] }"


class SigningClient(FlaskClient):
    """A test client that signs each request like an EHR: a fresh JWT with aud = the URL called."""

    keys: EhrKeys | None = None

    def open(self, *args: Any, **kwargs: Any) -> Any:
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path")
        headers = dict(kwargs.pop("headers", None) or {})
        if self.keys is not None and isinstance(path, str) and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.keys.sign(TEST_BASE + path.split('?')[0])}"
        return super().open(*args, headers=headers, **kwargs)
