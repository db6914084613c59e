"""Optional API keys, and verification of the CDS Hooks client's JWT (keys generated here)."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.fhir import cds as cds_hooks

from .conftest import assert_cds_response, cds_request, questionnaire
from .test_api import assert_problem

URL = f"/cds-services/{cds_hooks.SERVICE_ID}"
PUBLIC_URL = "https://hipdx.hospital.example"
AUD = f"{PUBLIC_URL}{URL}"  # from configuration only, never from the request's Host
ISSUER = "https://ehr.example/cds-client"
BODY = cds_request(questionnaire({"sex": {"valueString": "female"}, "pain_lateral_hip": {"valueBoolean": True}}))


# ---------------------------------------------------------------------------- API keys
@pytest.fixture
def keyed(make_app):
    return make_app(api_keys="key-one, key-two").test_client()


@pytest.mark.parametrize("headers", [{"X-API-Key": "key-one"}, {"Authorization": "Bearer key-two"},
                                     {"authorization": "bearer key-one"}])
def test_valid_keys(keyed, headers):
    assert keyed.get("/v1/model", headers=headers).status_code == 200
    assert keyed.post("/v1/diagnosis", json={"evidence": {"sex": "male"}}, headers=headers).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic a2V5LW9uZQ=="}, {"X-API-Key": ""}, {"X-API-Key": "key-one "},
                                     {"X-API-Key": "key"}])
def test_missing_or_invalid_key_is_401(keyed, headers):
    for resp in (keyed.get("/v1/model", headers=headers), keyed.post("/v1/diagnosis", json={"evidence": {}}, headers=headers)):
        body = assert_problem(resp, 401, "unauthorized")
        assert "WWW-Authenticate" in resp.headers
        assert "key-one" not in json.dumps(body)


def test_open_routes_stay_open(keyed):
    for path in ("/healthz", "/openapi.json", "/docs", "/cds-services"):
        assert keyed.get(path).status_code == 200, path
    preflight = keyed.options("/v1/diagnosis", headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204


def test_cds_service_needs_x_api_key_without_jwt(keyed):
    assert_problem(keyed.post(URL, json=BODY), 401)
    assert_problem(keyed.post(URL, json=BODY, headers={"Authorization": "Bearer key-one"}), 401)  # bearer = the CDS JWT
    assert keyed.post(URL, json=BODY, headers={"X-API-Key": "key-one"}).status_code == 200


def test_keys_from_environment(model, monkeypatch):
    from service.http import create_app

    monkeypatch.setenv("HIPDX_API_KEYS", "from-env")
    client = create_app(model).test_client()
    assert client.get("/v1/model").status_code == 401
    assert client.get("/v1/model", headers={"X-API-Key": "from-env"}).status_code == 200
    monkeypatch.delenv("HIPDX_API_KEYS")
    assert create_app(model).test_client().get("/v1/model").status_code == 200


# ---------------------------------------------------------------------------- CDS JWT
@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(private_key) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def jwt_client(make_app, tmp_path, ec_key, rsa_key):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    issuers = {ISSUER: _pem(ec_key), "https://other-ehr.example": {"keys": [{**jwk, "kid": "rsa-1", "alg": "RS384"}]}}
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(issuers))
    return make_app(cds_jwt_issuers=str(path), public_url=PUBLIC_URL).test_client()


def _claims(**over):
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "client-1", "aud": AUD, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _call(client, token):
    return client.post(URL, json=BODY, headers={"Authorization": f"Bearer {token}"})


def test_jwt_es384_accepted(jwt_client, ec_key):
    resp = _call(jwt_client, jwt.encode(_claims(), ec_key, algorithm="ES384"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_cds_response(resp.get_json())


def test_jwt_rs384_from_jwks_accepted(jwt_client, rsa_key):
    token = jwt.encode(_claims(iss="https://other-ehr.example"), rsa_key, algorithm="RS384", headers={"kid": "rsa-1"})
    assert _call(jwt_client, token).status_code == 200


def test_jwt_yaml_issuers_file(make_app, tmp_path, ec_key):
    import yaml

    path = tmp_path / "issuers.yaml"
    path.write_text(yaml.safe_dump({ISSUER: _pem(ec_key)}))
    client = make_app(cds_jwt_issuers=str(path), public_url=PUBLIC_URL).test_client()
    assert _call(client, jwt.encode(_claims(), ec_key, algorithm="ES384")).status_code == 200


def _hs256(claims, secret: str) -> str:
    return jwt.api_jws.PyJWS().encode(json.dumps(claims).encode(), secret, algorithm="HS256")


def _none_alg(claims) -> str:
    import base64

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize("case", ["no token", "hs256", "none", "wrong aud", "expired", "no jti", "no iat", "unknown issuer",
                                  "other key", "garbage", "future iat"])
def test_jwt_rejected(jwt_client, ec_key, case):
    other = ec.generate_private_key(ec.SECP384R1())
    tokens = {
        "hs256": lambda: _hs256(_claims(), "a-shared-secret-of-enough-length-0123456789"),
        "none": lambda: _none_alg(_claims()),
        "wrong aud": lambda: jwt.encode(_claims(aud="https://elsewhere.example/cds-services/x"), ec_key, algorithm="ES384"),
        "expired": lambda: jwt.encode(_claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 4000), ec_key,
                                      algorithm="ES384"),
        "no jti": lambda: jwt.encode(_claims(jti=None), ec_key, algorithm="ES384"),
        "no iat": lambda: jwt.encode(_claims(iat=None), ec_key, algorithm="ES384"),
        "unknown issuer": lambda: jwt.encode(_claims(iss="https://stranger.example"), ec_key, algorithm="ES384"),
        "other key": lambda: jwt.encode(_claims(), other, algorithm="ES384"),
        "garbage": lambda: "not.a.jwt",
        "future iat": lambda: jwt.encode(_claims(iat=int(time.time()) + 3600), ec_key, algorithm="ES384"),
    }
    if case == "no token":
        resp = jwt_client.post(URL, json=BODY)
    else:
        resp = _call(jwt_client, tokens[case]())
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_jwt_audience_uses_public_url(make_app, tmp_path, ec_key):
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({ISSUER: _pem(ec_key)}))
    client = make_app(cds_jwt_issuers=str(path), public_url="https://hipdx.hospital.example/").test_client()
    good = jwt.encode(_claims(aud=f"https://hipdx.hospital.example{URL}"), ec_key, algorithm="ES384")
    assert _call(client, good).status_code == 200
    assert_problem(_call(client, jwt.encode(_claims(aud=f"http://localhost{URL}"), ec_key, algorithm="ES384")), 401)


def test_jwt_audience_never_from_host_header(jwt_client, ec_key):
    """A token minted for whatever host the request names is refused: aud comes from configuration."""
    token = jwt.encode(_claims(aud=f"https://attacker.example{URL}"), ec_key, algorithm="ES384")
    resp = jwt_client.post(URL, json=BODY, headers={"Authorization": f"Bearer {token}", "Host": "attacker.example"})
    assert_problem(resp, 401, "unauthorized")


@pytest.mark.parametrize("public_url", [None, "", "hipdx.hospital.example"])
def test_jwt_verification_refuses_to_start_without_public_url(make_app, tmp_path, ec_key, public_url):
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({ISSUER: _pem(ec_key)}))
    with pytest.raises(ValueError, match="HIPDX_PUBLIC_URL"):
        make_app(cds_jwt_issuers=str(path), public_url=public_url)


def test_jwt_replay_refused(jwt_client, ec_key):
    token = jwt.encode(_claims(), ec_key, algorithm="ES384")
    assert _call(jwt_client, token).status_code == 200
    body = assert_problem(_call(jwt_client, token), 401, "unauthorized")
    assert "replay" in body["detail"]
    assert _call(jwt_client, jwt.encode(_claims(), ec_key, algorithm="ES384")).status_code == 200  # a new jti is fine


def test_jwt_replay_refused_across_workers(make_app, tmp_path, ec_key):
    """Two app instances (two gunicorn workers) share the jti store: a token used on one is refused on the other."""
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({ISSUER: _pem(ec_key)}))
    first = make_app(cds_jwt_issuers=str(path), public_url=PUBLIC_URL).test_client()
    second = make_app(cds_jwt_issuers=str(path), public_url=PUBLIC_URL).test_client()
    token = jwt.encode(_claims(), ec_key, algorithm="ES384")
    assert _call(first, token).status_code == 200
    assert_problem(_call(second, token), 401, "unauthorized")


def test_jwt_feedback_endpoint(jwt_client, ec_key):
    feedback = {"feedback": [{"card": "c0b1f0b4-0000-4000-8000-000000000001", "outcome": "accepted",
                              "outcomeTimestamp": "2026-11-30T08:00:00Z"}]}
    for aud in (AUD, f"{AUD}/feedback"):
        token = jwt.encode(_claims(aud=aud), ec_key, algorithm="ES384")
        resp = jwt_client.post(f"{URL}/feedback", json=feedback, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_problem(jwt_client.post(f"{URL}/feedback", json=feedback), 401)


def test_discovery_open_with_jwt(jwt_client):
    assert jwt_client.get("/cds-services").status_code == 200


def test_private_or_symmetric_keys_refused(ec_key):
    from service.auth import JwtVerifier

    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key))
    with pytest.raises(ValueError):
        JwtVerifier({ISSUER: private_jwk})
    with pytest.raises(ValueError):
        JwtVerifier({ISSUER: {"kty": "oct", "k": "c2VjcmV0"}})
