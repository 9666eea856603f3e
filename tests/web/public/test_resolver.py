"""The GS1-Conformant resolver, check by check.

Each test names the clause of the GS1-Conformant Resolver Standard 1.1 ("Resolver §…",
https://ref.gs1.org/standards/resolver/) or of GS1's resolver test suite
(github.com/gs1/GS1DL-resolver-testsuite, "suite: <check id>") it transcribes. Independent
oracles: GS1's own linkset schema (gs1_linkset_schema.json, a byte copy of
https://ref.gs1.org/standards/resolver/linkset-schema), the structure RFC 9264 §4.2 gives JSON
linksets (checked here by hand), GS1's description file schema (transcribed below), and biip for
what is and is not a GS1 Digital Link.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import biip
import jsonschema_rs
import pytest
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from tests import factories
from tests.conftest import BASE_URL
from tracetag.core.i18n import gettext
from tracetag.signing.issuer import Issuer
from tracetag.web.ratelimit import Rule

VOC = "https://gs1.org/voc/"
LINKSET = "application/linkset+json"
GS1_LINKSET_SCHEMA = jsonschema_rs.validator_for(
    json.loads((Path(__file__).parent / "gs1_linkset_schema.json").read_text())
)
# GS1's JSON schema for resolver description files (Resolver §3), 1.2.0 as published at
# https://ref.gs1.org/standards/resolver/description-file-schema (unchanged from 1.1.0 but for
# its $schema and $id): required members, types, the primary-key enum and the prefix pattern.
DESCRIPTION_SCHEMA = jsonschema_rs.validator_for(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["resolverRoot", "supportedPrimaryKeys"],
        "properties": {
            "resolverRoot": {"type": "string", "format": "uri"},
            "supportedPrimaryKeys": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": [
                        *("all", "01", "8006", "8013", "8010", "410", "411", "412", "413"),
                        *("414", "415", "417", "8017", "8018", "255", "00", "253", "401"),
                        *("402", "8003", "8004"),
                    ],
                },
            },
            "name": {"type": "string"},
            "supportedLinkType": {
                "type": "array",
                "items": {
                    "properties": {
                        "namespace": {"type": "string", "format": "uri"},
                        "prefix": {"type": "string", "pattern": "^[a-zA-Z_][A-Za-z0-9_-]*?:$"},
                    }
                },
            },
            "linkTypeDefaultCanBeLinkset": {"type": "boolean"},
            "supportedContextValuesEnumerated": {"type": "array", "items": {"type": "string"}},
            "contact": {"type": "object", "properties": {"fn": {"type": "string"}}},
            "extensionProfile": {"type": "string"},
            "jsonLdContextLocation": {"type": "string", "format": "uri"},
        },
    }
)


def rfc9264_problems(document: Any) -> list[str]:
    """Where a JSON linkset breaks RFC 9264 §4.2 (an empty list when it does not)."""
    if not isinstance(document, dict) or set(document) != {"linkset"}:
        return ["§4.2.1: one member, linkset"]
    if not isinstance(document["linkset"], list):
        return ["§4.2.1: linkset is an array"]
    problems = []
    for context in document["linkset"]:
        if not isinstance(context, dict):
            problems.append("§4.2.2: a link context is an object")
            continue
        anchor = context.get("anchor")
        if not isinstance(anchor, str) or not urlsplit(anchor).scheme:
            problems.append("§4.2.2: anchor is an absolute URI")
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            registered = rel.isalpha() and rel.islower()
            if not registered and not urlsplit(rel).scheme:
                problems.append(f"§4.2.2: {rel} is a registered relation type or a URI")
            if not isinstance(targets, list) or not targets:
                problems.append(f"§4.2.2: {rel} has an array of target objects")
                continue
            for target in targets:
                if not isinstance(target, dict) or not isinstance(target.get("href"), str):
                    problems.append(f"§4.2.3: every {rel} target has an href")
                    continue
                for name, value in target.items():
                    if name in ("href", "title", "type", "media"):
                        ok = isinstance(value, str)
                    elif name == "hreflang":  # §4.2.4.1: an array, even for one language
                        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
                    else:  # §4.2.4.3: extension attributes are arrays
                        ok = isinstance(value, list)
                    if not ok:
                        problems.append(f"§4.2.4: {rel} target attribute {name}")
    return problems


@pytest.fixture
def world(
    session: Session, session_factory: sessionmaker[Session], issuer: Issuer
) -> dict[str, Any]:
    rated = factories.make_producer(session)
    product = factories.make_product(session, rated, name="Gạo ST25 Mỹ Xuyên")
    batch = factories.make_batch(session, issuer, product, lot="L-1")
    factories.make_batch(session, issuer, product, lot="ST25/11")
    unrated = factories.make_producer(session, ocop=None)
    plain = factories.make_product(session, unrated, name="Mật ong rừng U Minh")
    factories.make_batch(session, issuer, plain, lot="MO-1")
    session.commit()
    _, (tag,) = factories.make_tags(session_factory, issuer, batch, 1)
    gtin = product.gtin
    return {
        "gtin": gtin,
        "plain_gtin": plain.gtin,
        "lot": f"/01/{gtin}/10/L-1",
        "tag": f"/01/{gtin}/10/L-1/21/{tag.serial}",
        "serial": tag.serial,
        "digsig": tag.digsig,
        "record_hash": batch.id and _record_hash(session, batch.id),
    }


def _record_hash(session: Session, batch_id: int) -> str:
    from tracetag.batches.service import latest_record

    record = latest_record(session, batch_id)
    assert record is not None
    return record.record_hash


def _linkset(client: TestClient, path: str, **headers: str) -> dict[str, Any]:
    r = client.get(path, params={"linkType": "linkset"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(LINKSET)
    body: dict[str, Any] = r.json()
    return body


def _links(linkset: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {context["anchor"]: context for context in linkset["linkset"]}


# -- §3: the resolver description file ---------------------------------------------------------


def test_description_file_at_the_well_known_address_validates_against_gs1_schema(
    client: TestClient,
) -> None:
    """Resolver §3 (suite: rdFile): /.well-known/gs1resolver, valid against GS1's schema."""
    r = client.get("/.well-known/gs1resolver", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    document = r.json()
    assert DESCRIPTION_SCHEMA.is_valid(document), list(DESCRIPTION_SCHEMA.iter_errors(document))
    assert document["resolverRoot"] == BASE_URL
    assert document["supportedPrimaryKeys"] == ["01"]
    assert document["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]
    assert document["linkTypeDefaultCanBeLinkset"] is False
    assert "jsonLdContextLocation" in document
    # The deliberate choice is said where a client looks for what the resolver does.
    assert "round trip" in document["defaultLinkPolicy"]
    assert r.headers["access-control-allow-origin"] == "*"


def test_description_file_answers_head_and_options(client: TestClient) -> None:
    """Resolver §2.2: GET, HEAD and OPTIONS."""
    get = client.get("/.well-known/gs1resolver")
    head = client.head("/.well-known/gs1resolver")
    assert head.status_code == 200 and head.content == b""
    assert head.headers == get.headers
    options = client.options("/.well-known/gs1resolver")
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


# -- §2.2: methods and CORS ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["lot", "product", "unknown lot", "bad check digit", "unknown GTIN", "lot json"]
)
def test_head_answers_as_get_without_a_body(
    client: TestClient, world: dict[str, Any], kind: str
) -> None:
    """Resolver §2.2 (suite: methodsCheck): HEAD has the GET answer's status and headers."""
    g = world["gtin"]
    path, headers = {
        "lot": (world["lot"], {}),
        "product": (f"/01/{g}", {}),
        "unknown lot": (f"/01/{g}/10/NOPE", {}),
        "bad check digit": (f"/01/{g[:-1]}{(int(g[-1]) + 1) % 10}/10/L-1", {}),
        "unknown GTIN": ("/01/08930000000019/10/L-1", {}),
        "lot json": (world["lot"], {"Accept": "application/json"}),
    }[kind]
    # Uncompressed, so Content-Length is the body's own length (gzip applies to bodies only).
    headers = {**headers, "Accept-Encoding": "identity"}
    get = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.status_code == get.status_code
    assert head.content == b""
    # Content-Length included: the GET body's length. Only the compression layer's note that a
    # body could be gzipped differs, and a HEAD has no body to compress.
    get_headers = dict(get.headers)
    get_headers["vary"] = get_headers["vary"].replace(", Accept-Encoding", "")
    assert dict(head.headers) == get_headers


def test_head_of_a_tag_page(client: TestClient, world: dict[str, Any]) -> None:
    """Resolver §2.2: HEAD on a unit tag's link answers like GET (the scan counts change)."""
    path = f"{world['tag']}?8030={world['digsig']}"
    get = client.get(path)
    head = client.head(path)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["link"] == get.headers["link"]


@pytest.mark.parametrize("which", ["lot", "tag", "product", "bad"])
def test_options_lists_the_methods_and_answers_a_cors_preflight(
    client: TestClient, world: dict[str, Any], which: str
) -> None:
    """Resolver §2.2 (suite: corsCheck, methodsCheck, linkOnRedirect): the request the suite
    sends, Access-Control-Request-Method and all."""
    path = {"lot": world["lot"], "tag": world["tag"], "product": f"/01/{world['gtin']}"}.get(
        which, "/01/123/10"
    )
    r = client.options(
        path,
        headers={
            "Origin": "https://ref.gs1.org/test-suites/resolver/",
            "Access-Control-Request-Method": "GET,HEAD,OPTIONS",
        },
    )
    assert r.status_code == 204
    assert r.content == b""
    for header in ("allow", "access-control-allow-methods"):
        assert set(r.headers[header].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert r.headers["access-control-allow-origin"] == "*"
    if which != "bad":
        assert 'rel="linkset"' in r.headers["link"]


def test_cors_on_public_answers_and_not_on_the_producer_api(
    client: TestClient, world: dict[str, Any], producer_auth: factories.ProducerAuth
) -> None:
    """Resolver §2.2: CORS for pages, JSON, linksets, the JWKS and records; not for /api/."""
    public = [
        (world["lot"], {"Accept": "application/json"}),
        (world["lot"], {"Accept": LINKSET}),
        (world["lot"], {}),
        (f"{world['tag']}?format=json", {}),
        (f"/01/{world['gtin']}?format=json", {}),
        ("/01/08930000000019?format=json", {}),  # a 404
        ("/01/123?format=json", {}),  # a 400
        ("/.well-known/jwks.json", {}),
        (f"/records/{world['record_hash']}.jws", {}),
    ]
    for path, headers in public:
        r = client.get(path, headers={"Origin": "https://example.org", **headers})
        assert r.headers.get("access-control-allow-origin") == "*", path
        assert "Link" in r.headers.get("access-control-expose-headers", ""), path
    for path in ("/api/v1/products", "/api/v1/batches"):
        r = client.get(path, headers={"Origin": "https://example.org", **producer_auth.headers})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers, path


# -- §2.10: linksets ---------------------------------------------------------------------------


def test_linkset_by_link_type_or_accept_header_is_the_same_rfc9264_document(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.10 (suite: ltLinksetNoRedirect, ltAllNoRedirect, ltAcceptHeader,
    validLinkset, declaredContentType, linksetJsonldCheck)."""
    path = world["tag"]
    answers = [
        client.get(path, params={"linkType": "linkset"}, follow_redirects=False),
        client.get(path, params={"linkType": "all"}, follow_redirects=False),
        client.get(path, headers={"Accept": LINKSET}, follow_redirects=False),
        client.get(path, params={"linkType": "all"}, headers={"Accept": LINKSET}),
    ]
    for r in answers:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(LINKSET)
        assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["link"]
        assert 'type="application/ld+json"' in r.headers["link"]
    bodies = [r.json() for r in answers]
    assert all(body == bodies[0] for body in bodies)
    linkset = bodies[0]
    assert GS1_LINKSET_SCHEMA.is_valid(linkset), list(GS1_LINKSET_SCHEMA.iter_errors(linkset))
    assert rfc9264_problems(linkset) == []


def test_linkset_walks_up_from_the_tag_to_the_lot_and_the_product(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.9 rule 4: the links of every level up to the primary key, each with its
    anchor; the links a tracetag item has: the page, the signed record and the certificate."""
    g = world["gtin"]
    contexts = _links(_linkset(client, world["tag"]))
    tag, lot, product = BASE_URL + world["tag"], BASE_URL + world["lot"], f"{BASE_URL}/01/{g}"
    assert list(contexts) == [tag, lot, product]
    assert [x["href"] for x in contexts[tag][VOC + "pip"]] == [tag]
    assert [x["href"] for x in contexts[lot][VOC + "pip"]] == [lot]
    traceability = contexts[lot][VOC + "traceability"]
    assert [(x["href"], x["type"]) for x in traceability] == [
        (f"{BASE_URL}/records/{world['record_hash']}.jws", "application/jose"),
        (f"{lot}?format=json", "application/json"),
    ]
    certificate = contexts[product][VOC + "certificationInfo"]
    assert [x["href"] for x in certificate] == [f"{product}#ocop"]
    assert "88/QĐ-UBND" in certificate[0]["title"]
    for context in contexts.values():
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            for target in targets:  # Resolver §2.5.3, §2.5.4: a title always, languages as BCP 47
                assert target["title"], (rel, target)
                assert all(lang in ("vi", "en") for lang in target.get("hreflang", []))


def test_each_level_has_exactly_one_default_link_the_uri_itself(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.8 (suite: defaultLinkExists, singleDefaulLink): one default per entity,
    a title and no other attribute, also given a descriptive type (gs1:pip). Its target is the
    Digital Link URI itself: a plain request is served, not redirected (README, "Resolver")."""
    for context in _linkset(client, world["tag"])["linkset"]:
        (default,) = context[VOC + "defaultLink"]
        assert set(default) == {"href", "title"}
        assert default["href"] == context["anchor"]
        assert default["href"] in [x["href"] for x in context[VOC + "pip"]]
    r = client.get(world["lot"], follow_redirects=False)
    assert r.status_code == 200 and "location" not in r.headers


def test_no_certificate_link_without_an_ocop_certificate(
    client: TestClient, world: dict[str, Any]
) -> None:
    contexts = _linkset(client, f"/01/{world['plain_gtin']}")["linkset"]
    assert [VOC + "certificationInfo" in c for c in contexts] == [False]
    assert (
        client.get(f"/01/{world['plain_gtin']}/10/MO-1?linkType=gs1:certificationInfo").status_code
        == 404
    )


def test_linkset_titles_follow_the_visitor_language(
    client: TestClient, world: dict[str, Any]
) -> None:
    vi = _linkset(client, world["lot"])["linkset"][0]
    en = _linkset(client, world["lot"], **{"Accept-Language": "en"})["linkset"][0]
    assert vi[VOC + "pip"][0]["title"] == gettext(
        "vi", "%(product)s, lot %(lot)s: traceability page"
    ) % {"product": "Gạo ST25 Mỹ Xuyên", "lot": "L-1"}
    assert en[VOC + "pip"][0]["title"] == "Gạo ST25 Mỹ Xuyên, lot L-1: traceability page"


def test_every_page_points_to_its_linkset(client: TestClient, world: dict[str, Any]) -> None:
    """Resolver §2.2 / suite linkOnRedirect: a Link header with rel="linkset" (RFC 9264 §6)."""
    for path in (world["lot"], world["tag"], f"/01/{world['gtin']}"):
        for headers in ({}, {"Accept": "application/json"}):
            r = client.get(path, headers=headers)
            assert r.status_code == 200, path
            link = r.headers["link"]
            assert link == f'<{path}?linkType=linkset>; rel="linkset"; type="{LINKSET}"'
            assert client.get(f"{path}?linkType=linkset").status_code == 200


# -- §2.6: link types --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["gs1:", VOC, "https://ref.gs1.org/voc/"])
def test_link_type_redirects_307_to_each_link_of_the_linkset(
    client: TestClient, world: dict[str, Any], form: str
) -> None:
    """Resolver §2.6.2, §2.14 (suite: loFor…): every link type in the linkset, asked for by
    CURIE or by URI, redirects to its link; a media type picks among several (§2.6.3)."""
    for context in (
        _linkset(client, world["tag"])["linkset"][:1] + _linkset(client, world["lot"])["linkset"]
    ):
        anchor_path = urlsplit(context["anchor"]).path
        for rel, targets in context.items():
            if rel == "anchor":
                continue
            for target in targets:
                headers = {"Accept": target["type"]} if "type" in target else {}
                r = client.get(
                    anchor_path,
                    params={"linkType": form + rel.removeprefix(VOC)},
                    headers=headers,
                    follow_redirects=False,
                )
                assert r.status_code == 307, (anchor_path, rel)
                assert r.headers["location"] == target["href"]
                assert 'rel="linkset"' in r.headers["link"]


def test_link_type_redirects_walk_up_and_follow_to_the_right_answer(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.9: a link type the lot lacks comes from the product's level."""
    r = client.get(world["lot"], params={"linkType": "gs1:certificationInfo"})
    assert r.status_code == 200  # followed to the product page's OCOP entry
    assert 'id="ocop"' in r.text
    jws = client.get(
        world["tag"], params={"linkType": "gs1:traceability"}, headers={"Accept": "*/*"}
    )
    assert jws.headers["content-type"] == "application/jose"
    as_json = client.get(
        world["tag"],
        params={"linkType": "gs1:traceability"},
        headers={"Accept": "application/json"},
    )
    assert as_json.json()["record_hash"] == world["record_hash"]


def test_redirects_pass_the_query_string_on(client: TestClient, world: dict[str, Any]) -> None:
    """Resolver §2.12 (suite: qsPassedOn): every key=value pair but linkType goes along."""
    r = client.get(
        f"{world['tag']}?linkType=gs1:pip&8030={world['digsig']}&foo=bar&lang=en",
        follow_redirects=False,
    )
    assert r.status_code == 307
    assert (
        r.headers["location"] == f"{BASE_URL}{world['tag']}?8030={world['digsig']}&foo=bar&lang=en"
    )
    r = client.get(
        f"{world['lot']}?foo=bar&linkType=gs1:traceability",
        headers={"Accept": "application/json"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"{BASE_URL}{world['lot']}?format=json&foo=bar"
    r = client.get(f"{world['lot']}?linkType=gs1:certificationInfo&a=1", follow_redirects=False)
    assert r.headers["location"] == f"{BASE_URL}/01/{world['gtin']}?a=1#ocop"


@pytest.mark.parametrize("link_type", ["gs1:nosuchlt", "gs1:recipeInfo", "nosuch:thing", ""])
def test_a_link_type_with_no_link_is_404(
    client: TestClient, world: dict[str, Any], link_type: str
) -> None:
    """Resolver §2.6.2 (suite: specificLinkTypeNotFound): no link of the type asked for, 404."""
    r = client.get(world["lot"], params={"linkType": link_type}, follow_redirects=False)
    assert r.status_code == 404
    assert gettext("vi", "No link of this type") in r.text
    assert 'rel="linkset"' in r.headers["link"]
    r = client.get(
        world["tag"],
        params={"linkType": link_type},
        headers={"Accept": "application/json", "Accept-Language": "en"},
    )
    assert r.status_code == 404
    assert r.json() == {"detail": "no link of this type", "linkType": link_type}


# -- §2.4.1: 400 for what is not a GS1 Digital Link, 404 for what is not registered ------------


def _bad_paths(g: str) -> dict[str, str]:
    wrong = f"{g[:-1]}{(int(g[-1]) + 1) % 10}"
    return {
        "bad check digit": f"/01/{wrong}/10/L-1",
        "bad check digit, product": f"/01/{wrong}",
        "non-numeric GTIN": "/01/0893ABC0000001/10/L-1",
        "short GTIN": "/01/123/10/L-1",
        "no lot after 10": f"/01/{g}/10",
        "odd segments": "/01/123/10",
        "AIs out of order": f"/01/{g}/21/S1/10/L-1",
        "repeated AI": f"/01/{g}/10/L-1/10/L-2",
        "not a GTIN qualifier": f"/01/{g}/99/X",
        "suite's /foo probe": f"/01/{g}/10/L-1/foo",
        "suite's /foo probe, tag": f"/01/{g}/10/L-1/21/S1/foo",
        "lot too long": f"/01/{g}/10/{'L' * 21}",
        "NUL in the lot": f"/01/{g}/10/L%00",
        "diacritics in the lot": f"/01/{g}/10/L%C3%B4",
        "broken percent-encoding": f"/01/{g}/10/%ZZ",
        "empty serial": f"/01/{g}/10/L-1/21//",
        "control character in the serial": f"/01/{g}/10/L-1/21/%1B%5B31m",
    }


# Where biip accepts what the standards refuse (and so what tracetag refuses).
BIIP_MORE_LENIENT = {
    "short GTIN": "biip zero-pads any number; a GTIN has 8, 12, 13 or 14 digits (DL URI §4.1)",
    "broken percent-encoding": "biip keeps %ZZ as text; RFC 3986 §2.1 allows % HEXDIG HEXDIG",
}


def _biip_reads_a_valid_gtin(uri: str) -> bool:
    try:
        parsed = GS1DigitalLinkURI.parse(uri)
    except biip.ParseError:
        return False
    return parsed.element_strings[0].gtin is not None  # biip flags a bad check digit this way


@pytest.mark.parametrize("case", list(_bad_paths("08938535000252")))
def test_what_is_not_a_gs1_digital_link_is_400_and_biip_agrees(
    client: TestClient, world: dict[str, Any], case: str
) -> None:
    """Resolver §2.4.1 (suite: reportWith400, noErrorWith200): syntax errors answer 400, with a
    page in the visitor's language, or JSON when asked."""
    path = _bad_paths(world["gtin"])[case]
    # The oracle: biip does not read it as a Digital Link with a valid GTIN either, but where it
    # is knowingly more lenient than the standards.
    assert _biip_reads_a_valid_gtin(BASE_URL + path) is (case in BIIP_MORE_LENIENT), case
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 400, (case, r.status_code)
    assert "text/html" in r.headers["content-type"]
    assert gettext("vi", "Invalid address") in r.text and 'lang="vi"' in r.text
    r = client.get(path, headers={"Accept-Language": "en"})
    assert "Invalid address" in r.text and 'lang="en"' in r.text
    r = client.get(path, headers={"Accept": "application/json"})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("not a valid GS1 Digital Link")


def test_the_400_page_says_what_is_wrong(client: TestClient, world: dict[str, Any]) -> None:
    bad = _bad_paths(world["gtin"])
    en = {"Accept-Language": "en"}
    assert "check digit" in client.get(bad["bad check digit"], headers=en).text
    assert "8, 12, 13 or 14 digits" in client.get(bad["non-numeric GTIN"], headers=en).text
    assert "/01/GTIN/10/lot/21/serial" in client.get(bad["AIs out of order"], headers=en).text
    assert "lot number" in client.get(bad["NUL in the lot"], headers=en).text


def test_a_well_formed_unknown_gtin_is_404_not_found(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.4.1 (a valid URI the resolver knows nothing of: 404); only here does the page
    say the product does not exist."""
    for path in ("/01/08930000000019", "/01/08930000000019/10/L-1", "/01/08930000000019/21/S"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert gettext("vi", "The product does not exist in the system") in r.text
        assert client.get(path, params={"linkType": "linkset"}).status_code == 404


def test_trailing_slash_is_tolerated(client: TestClient, world: dict[str, Any]) -> None:
    """Resolver §2.13 (suite: trailingSlash)."""
    for path in (world["lot"], f"/01/{world['gtin']}", world["tag"]):
        a = client.get(path, follow_redirects=False)
        b = client.get(path + "/", follow_redirects=False)
        assert a.status_code == b.status_code == 200
        assert a.headers.get("location") == b.headers.get("location")


def test_gtin13_and_typed_serials_still_redirect_301_with_the_query(
    client: TestClient, world: dict[str, Any]
) -> None:
    g, serial = world["gtin"], world["serial"]
    r = client.get(f"/01/{g[1:]}?linkType=linkset", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, f"/01/{g}?linkType=linkset")
    r = client.get(f"/01/{g[1:]}/10/L-1/21/{serial.lower()}?a=1", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, f"{world['tag']}?a=1")


# -- §2.5.9: walking up from a lot to its product ----------------------------------------------


def test_the_gtin_alone_shows_the_product_its_producer_and_its_lots(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.9 (suite: basicWalkUp): a GTIN has a page of its own."""
    path = f"/01/{world['gtin']}"
    r = client.get(path)
    assert r.status_code == 200
    html = r.text
    assert "Gạo ST25 Mỹ Xuyên" in html and "HTX Dịch vụ Nông nghiệp Mỹ Xuyên" in html
    assert 'id="ocop"' in html and "88/QĐ-UBND" in html
    assert f'href="{path}/10/L-1"' in html and f'href="{path}/10/ST25%2F11"' in html
    assert client.get(f"{path}/10/ST25%2F11").status_code == 200
    english = client.get(path, headers={"Accept-Language": "en"}).text
    assert 'lang="en"' in english and "Registered lots" in english
    data = client.get(path, headers={"Accept": "application/json"}).json()
    assert data["product"]["name"] == "Gạo ST25 Mỹ Xuyên"
    assert data["producer"]["ocop"]["certificate_no"] == "88/QĐ-UBND"
    assert {lot["lot"] for lot in data["lots"]} == {"L-1", "ST25/11"}
    assert data["lot_count"] == 2
    assert data["linkset_url"] == f"{path}?linkType=linkset"


def test_an_unknown_lot_shows_the_real_product_and_accuses_no_one(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.9: an unknown lot of a known GTIN walks up to the product. The page says
    the lot is not registered; it does not say "counterfeit". The status stays 404, the lot
    being what was asked for (and `tracetag verify` reads 404 as "not registered")."""
    path = f"/01/{world['gtin']}/10/NOPE-9"
    for lang in ("vi", "en"):
        r = client.get(path, headers={"Accept-Language": lang})
        assert r.status_code == 404
        assert gettext(lang, "This lot is not registered") in r.text
        assert "Gạo ST25 Mỹ Xuyên" in r.text and 'href="/01/' in r.text
        for accusing in ("counterfeit", "hàng giả", "does not exist", "không tồn tại"):
            assert accusing not in r.text, accusing
    data = client.get(path, headers={"Accept": "application/json"}).json()
    assert data["lot_registered"] is False and data["requested_lot"] == "NOPE-9"
    assert data["product"]["gtin"] == world["gtin"]
    # Its linkset is the product's, and its link types resolve there.
    (context,) = _linkset(client, path)["linkset"]
    assert context["anchor"] == f"{BASE_URL}/01/{world['gtin']}"
    r = client.get(path, params={"linkType": "gs1:pip"}, follow_redirects=False)
    assert r.headers["location"] == f"{BASE_URL}/01/{world['gtin']}"


def test_a_version_a_lot_does_not_have_is_still_not_found(
    client: TestClient, world: dict[str, Any]
) -> None:
    r = client.get(world["lot"], params={"version": 9})
    assert r.status_code == 404
    assert gettext("vi", "This lot is not registered") not in r.text


def test_a_cpv_is_read_and_resolves_at_the_levels_tracetag_registers(
    client: TestClient, world: dict[str, Any]
) -> None:
    """Resolver §2.5.9 rule 4: no link is registered for a CPV (AI 22), so a path with one
    resolves as the levels without it."""
    g = world["gtin"]
    assert client.get(f"/01/{g}/22/V1").status_code == 200
    r = client.get(f"/01/{g}/22/V1/10/L-1")
    assert r.status_code == 200 and "L-1" in r.text


# -- a serial without its lot -------------------------------------------------------------------


def test_a_serial_without_its_lot_redirects_to_the_tags_full_link(
    client: TestClient, world: dict[str, Any]
) -> None:
    """GS1 DL URI syntax §4.9 lets the lot out (/01/{gtin}/21/{serial}); biip reads it so too."""
    g, serial = world["gtin"], world["serial"]
    parsed = GS1DigitalLinkURI.parse(f"{BASE_URL}/01/{g}/21/{serial}")
    assert [(e.ai.ai, e.value) for e in parsed.element_strings] == [("01", g), ("21", serial)]
    r = client.get(f"/01/{g}/21/{serial}?8030={world['digsig']}", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == f"{world['tag']}?8030={world['digsig']}"
    r = client.get(f"/01/{g}/21/{serial.lower()}", follow_redirects=True)
    assert r.status_code == 200 and str(r.url) == BASE_URL + world["tag"]


def test_an_unknown_serial_without_a_lot_is_404_with_the_product(
    app: FastAPI, client: TestClient, world: dict[str, Any]
) -> None:
    path = f"/01/{world['gtin']}/21/ZZZZZZZZZZZZZ"
    r = client.get(path)
    assert r.status_code == 404
    assert gettext("vi", "This serial number is not registered") in r.text
    assert "Gạo ST25 Mỹ Xuyên" in r.text
    data = client.get(path, headers={"Accept": "application/json"}).json()
    assert data["serial_registered"] is False
    # Each miss counts against the budget of unknown serials, as on a tag page.
    app.state.rate_rules["unknown_serial"] = Rule.parse("unknown-serial", "2/minute")
    codes = [client.get(f"/01/{world['gtin']}/21/ZZZZZZZZZZZ{n}Z").status_code for n in range(3)]
    assert codes == [404, 404, 429]
    assert client.get(f"/01/{world['gtin']}/21/{world['serial']}").status_code == 429


def test_the_product_page_shows_the_product_image(
    client: TestClient, session: Session, world: dict[str, Any]
) -> None:
    from tracetag.products.images import clean_image
    from tracetag.products.models import Product
    from tracetag.products.service import store_image

    image = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 40)).save(image, format="JPEG")
    product = session.query(Product).filter_by(gtin=world["gtin"]).one()
    clean = clean_image(image.getvalue(), max_bytes=1_000_000, max_side=1200)
    store_image(session, product=product, image=clean, actor=factories.ACTOR)
    session.commit()
    html = client.get(f"/01/{world['gtin']}").text
    assert f'src="/media/{clean.sha256}"' in html and 'width="400" height="300"' in html
