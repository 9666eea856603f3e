"""Schemathesis against /openapi.json: generated requests, valid and invalid, across the whole API
and the Digital Link route, never get a 5xx or an answer the document does not describe.

TRACETAG_SCHEMATHESIS_EXAMPLES sets the cases per operation and mode (`make fuzz` runs many).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tracetag.signing.issuer import Issuer

EXAMPLES = int(os.environ.get("TRACETAG_SCHEMATHESIS_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
SEED = 20261123


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    auth = factories.producer_with_key(session)
    product = factories.make_product(session, auth.producer)
    batch = factories.make_batch(session, issuer, product)  # something real for ids to hit
    admin = factories.admin_key(session)
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    return {
        "producer": auth.token,
        "admin": admin,
        "gtin": product.gtin,
        "lot": batch.lot,
        "serial": tag.serial,
        "digsig": tag.digsig,
    }


def _checker(
    operation: Any, mode: GenerationMode, headers: dict[str, str], counter: list[int]
) -> Callable[[], None]:
    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        counter[0] += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    return check  # type: ignore[no-any-return]


def _role(path: str) -> str:
    return "admin" if path.startswith("/api/v1/admin") else "producer"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_answers_5xx_or_off_schema(
    app: FastAPI, world: dict[str, Any], mode: GenerationMode
) -> None:
    # The schemathesis pytest plugin does not run under pytest 9 yet, so drive hypothesis here.
    app.state.limiter.enabled = False  # thousands of cases from one client are no attack
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert "/01/{gtin}/10/{rest}" in paths
    assert len(operations) >= 15
    skipped: list[str] = []
    cases = [0]
    for operation in operations:
        headers = {"Authorization": f"Bearer {world[_role(operation.path)]}"}
        check = _checker(operation, mode, headers, cases)
        try:
            check()
        except Unsatisfiable:
            # An operation with nothing to get wrong (no parameters, no body) has no
            # negative cases; only that is allowed to come up empty.
            assert mode is GenerationMode.NEGATIVE
            assert not list(operation.path_parameters) and not list(operation.body)
            skipped.append(operation.path)
    assert len(skipped) <= 4, skipped
    assert cases[0] >= 500  # with both modes, over 1,000 cases a run


def test_digital_link_route_with_real_codes(app: FastAPI, world: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema["/01/{gtin}/10/{rest}"]["GET"]
    g, lot, serial, digsig = world["gtin"], world["lot"], world["serial"], world["digsig"]
    for rest, query, accept in [
        (lot, {}, "text/html"),
        (lot, {"format": "json"}, "application/json"),
        (lot, {"version": 1, "lang": "en"}, "text/html"),
        (f"{lot}/21/{serial}", {"8030": digsig}, "text/html"),
        (f"{lot}/21/{serial}", {"8030": digsig, "format": "json"}, "application/json"),
        (f"{lot}/21/{serial.lower()}", {}, "text/html"),
        (f"{lot}/21/ZZZZZZZZZZZZZ", {"format": "json"}, "application/json"),
    ]:
        case = operation.Case(
            path_parameters={"gtin": g, "rest": rest}, query=query, headers={"Accept": accept}
        )
        response = case.call(allow_redirects=False)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code in (200, 301, 404)


def test_resolver_routes_with_real_codes(app: FastAPI, world: dict[str, Any]) -> None:
    """The resolver's routes and answers (tests/web/public/test_resolver.py), as documented."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    g, lot, serial = world["gtin"], world["lot"], world["serial"]
    json_, html, linkset = "application/json", "text/html", "application/linkset+json"
    cases: list[tuple[str, str, dict[str, str], dict[str, Any], str, int]] = [
        ("/01/{gtin}", "GET", {"gtin": g}, {}, html, 200),
        ("/01/{gtin}", "GET", {"gtin": g}, {"format": "json"}, json_, 200),
        ("/01/{gtin}", "GET", {"gtin": g}, {"linkType": "linkset"}, json_, 200),
        ("/01/{gtin}", "GET", {"gtin": g}, {"linkType": "gs1:pip"}, html, 307),
        ("/01/{gtin}", "GET", {"gtin": g}, {"linkType": "gs1:nosuchlt"}, html, 404),
        ("/01/{gtin}", "GET", {"gtin": g[1:]}, {}, html, 301),
        ("/01/{gtin}", "GET", {"gtin": "08930000000018"}, {}, json_, 400),
        ("/01/{gtin}", "HEAD", {"gtin": g}, {}, html, 200),
        ("/01/{gtin}", "OPTIONS", {"gtin": g}, {}, html, 204),
        ("/01/{gtin}/10/{rest}", "GET", {"gtin": g, "rest": lot}, {}, linkset, 200),
        ("/01/{gtin}/10/{rest}", "GET", {"gtin": g, "rest": lot}, {"linkType": "all"}, html, 200),
        ("/01/{gtin}/10/{rest}", "GET", {"gtin": g, "rest": "NOPE"}, {}, json_, 404),
        ("/01/{gtin}/10/{rest}", "HEAD", {"gtin": g, "rest": lot}, {}, html, 200),
        ("/01/{gtin}/10/{rest}", "OPTIONS", {"gtin": g, "rest": lot}, {}, html, 204),
        ("/01/{gtin}/{rest}", "GET", {"gtin": g, "rest": f"21/{serial}"}, {}, html, 301),
        ("/01/{gtin}/{rest}", "GET", {"gtin": g, "rest": "21/ZZZZZZZZZZZZZ"}, {}, json_, 404),
        ("/01/{gtin}/{rest}", "GET", {"gtin": g, "rest": "99/X"}, {}, json_, 400),
        ("/01/{gtin}/{rest}", "HEAD", {"gtin": g, "rest": f"22/V/10/{lot}"}, {}, html, 200),
        ("/.well-known/gs1resolver", "GET", {}, {}, json_, 200),
        ("/.well-known/gs1resolver", "HEAD", {}, {}, json_, 200),
    ]
    for path, method, path_parameters, query, accept, status in cases:
        operation = schema[path][method]
        case = operation.Case(
            path_parameters=path_parameters, query=query, headers={"Accept": accept}
        )
        response = case.call(allow_redirects=False)
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == status, (path, method, path_parameters, query)
