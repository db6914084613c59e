"""Schemathesis against /openapi.json (bounded): no 5xx, and every response matches the spec."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def _app():
    from model import load_model  # cached per process: the session's `model` fixture gets the same one
    from service.http import create_app

    return create_app(load_model(), {"api_keys": None, "cds_jwt_issuers": None, "cache_size": 0})


# Loaded at collection (schemathesis' lazy fixture loader does not work with this pytest).
schema = schemathesis.openapi.from_wsgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case):
    case.call_and_validate(checks=CHECKS)
