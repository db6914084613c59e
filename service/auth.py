"""Optional authentication: API keys for the JSON API, and the CDS Hooks client's bearer JWT.

- API keys (``HIPDX_API_KEYS``, comma-separated): ``X-API-Key: <key>`` or ``Authorization: Bearer
  <key>`` on ``/v1/*``; ``X-API-Key`` on CDS service calls when no JWT issuers are configured
  (there the bearer token is the CDS client's JWT). Compared in constant time.
- CDS client JWTs (``HIPDX_CDS_JWT_ISSUERS`` = a JSON or YAML file mapping each trusted issuer to
  a PEM public key, a list of them, or a JWKS ``{"keys": [...]}``): asymmetric algorithms only,
  ``iss`` a configured issuer, ``exp``/``iat``/``jti`` present, and ``aud`` the service's URL as
  configured (``HIPDX_PUBLIC_URL``), never taken from the request: JWT verification refuses to
  start without it (:func:`audience_base`). A ``jti`` seen before within the token's lifetime is a
  replay and is refused (:func:`refuse_replay`, with a store shared by every worker).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .problems import Problem

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
LEEWAY_SECONDS = 30


def parse_api_keys(value: str | Iterable[str] | None) -> tuple[bytes, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(k.strip().encode() for k in items if k and k.strip())


def key_is_valid(candidate: str | None, keys: tuple[bytes, ...]) -> bool:
    """Constant-time comparison against every configured key (no early exit)."""
    if not candidate:
        return False
    given = candidate.encode()
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given, key)
    return ok


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def unauthorized(detail: str, scheme: str = "ApiKey") -> Problem:
    return Problem(401, detail, slug="unauthorized", title="Unauthorized", headers={"WWW-Authenticate": scheme})


class JwtVerifier:
    """Verifies CDS Hooks client JWTs against the configured issuers' public keys."""

    def __init__(self, issuers: Mapping[str, Any]) -> None:
        import jwt  # PyJWT[crypto]

        self._jwt = jwt
        self.keys: dict[str, list[tuple[str | None, Any]]] = {}
        for issuer, spec in issuers.items():
            self.keys[str(issuer)] = list(self._load_keys(spec))
            if not self.keys[str(issuer)]:
                raise ValueError(f"CDS JWT issuer {issuer!r}: no public key")

    @classmethod
    def from_file(cls, path: str | Path) -> JwtVerifier:
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            import yaml

            data = yaml.safe_load(text)
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping of issuer -> public key(s)")
        return cls(data)

    def _load_keys(self, spec: Any) -> Iterable[tuple[str | None, Any]]:
        """(kid, key) pairs from a PEM string, a JWK, a JWKS or a list of those. Private or
        symmetric keys are refused: only public keys of asymmetric algorithms are trusted."""
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        public_types = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)
        if isinstance(spec, list):
            for item in spec:
                yield from self._load_keys(item)
        elif isinstance(spec, Mapping) and "keys" in spec:
            for jwk in spec["keys"]:
                yield from self._load_keys(jwk)
        elif isinstance(spec, Mapping):
            if spec.get("kty") not in ("RSA", "EC", "OKP") or "d" in spec:
                raise ValueError("only public RSA, EC or OKP JWKs are accepted")
            key = self._jwt.PyJWK(dict(spec)).key
            yield spec.get("kid"), key
        elif isinstance(spec, str):
            key = load_pem_public_key(spec.encode())
            if not isinstance(key, public_types):
                raise ValueError("unsupported public key type")
            yield None, key
        else:
            raise ValueError(f"cannot read a public key from {type(spec).__name__}")

    def verify(self, token: str, audience: str | list[str]) -> dict[str, Any]:
        """The token's claims, or a 401 :class:`Problem` saying why not. ``audience``: the URL (or
        URLs) the token's ``aud`` must name."""
        jwt = self._jwt
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise unauthorized(f"JWT algorithm {alg!r} is not accepted; use one of {', '.join(ASYMMETRIC_ALGORITHMS)}",
                                   "Bearer")
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            candidates = self.keys.get(str(issuer)) if issuer is not None else None
            if not candidates:
                raise unauthorized("JWT issuer is not trusted", "Bearer")
            kid = header.get("kid")
            keyed = [k for k_id, k in candidates if kid is not None and k_id == kid]
            last_error: Exception | None = None
            for key in keyed or [k for _, k in candidates]:
                try:
                    return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer, leeway=LEEWAY_SECONDS,
                                      options={"require": list(REQUIRED_CLAIMS)})
                except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.InvalidAlgorithmError, TypeError, ValueError) as exc:
                    last_error = exc  # wrong key for this token: try the issuer's next key
                    continue
            raise unauthorized(f"JWT rejected: {last_error}", "Bearer")
        except Problem:
            raise
        except jwt.PyJWTError as exc:
            raise unauthorized(f"JWT rejected: {exc}", "Bearer") from None


def audience_base(public_url: str | None) -> str:
    """The base of every JWT ``aud`` this service accepts: the configured public URL.

    Raises ``ValueError`` when it is not configured: the audience must never come from the
    request's ``Host`` header (a token meant for another service could then be replayed here)."""
    if not public_url or not public_url.strip():
        raise ValueError("CDS client JWT verification (HIPDX_CDS_JWT_ISSUERS) needs HIPDX_PUBLIC_URL, the service's "
                         "external base URL: the expected JWT audience comes from configuration only")
    base = public_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"HIPDX_PUBLIC_URL must be an absolute http(s) URL, got {public_url!r}")
    return base


def refuse_replay(claims: Mapping[str, Any], is_new: Callable[[str, str, float], bool]) -> None:
    """Refuse (401) a token whose ``jti`` this issuer already used while it is still valid.

    ``is_new(issuer, jti, keep_until)`` records the id and says whether it was new; ids are kept
    until the token's ``exp`` plus the clock leeway, after which the token itself is refused."""
    keep_until = float(claims["exp"]) + LEEWAY_SECONDS
    if not is_new(str(claims["iss"]), str(claims["jti"]), keep_until):
        raise unauthorized("JWT rejected: this jti was already used (replay)", "Bearer")
