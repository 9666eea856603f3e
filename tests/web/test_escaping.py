"""Every field a producer types is escaped on every page that shows it (issue 8).

A producer whose every free-text field holds script, markup, `javascript:` and template payloads
(tests/web/hostile_site.py), served by `tracetag serve` over each database backend, is read in
Chromium by the producer, by an inspector and by a consumer: the portal's pages (and its forms
sent back with errors, which show what was typed), the inspector's, the public batch, tag and
product pages, and their JSON. On each, nothing typed runs or turns into markup: no global set,
no dialog, no script element, no on* attribute, no javascript: address, no request for the
payloads' images, no Content-Security-Policy violation (one would mean markup got through and
only the policy stopped it). What was typed is on the page as text, {{7*7}} included. The
headers hold the line should escaping ever slip: no 'unsafe-inline' script, frame-ancestors
'none', nosniff and a Referrer-Policy.

Debian's chromium (/usr/bin/chromium), driven by Playwright; no browser is downloaded. Under
CI=true a missing browser or Playwright fails these tests; elsewhere they skip and say why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from pydantic import BaseModel, ValidationError

from tests import factories
from tests.databases import backends
from tests.web.hostile_site import (
    IMG,
    JS_URL,
    PASSWORD,
    SCRIPT,
    SVG,
    TEMPLATE,
    HostileSite,
    serve_hostile_site,
)
from tracetag.batches.schemas import BatchCreate
from tracetag.producers.schemas import ProducerCreate
from tracetag.products.retailer_schemas import RetailerIn

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
if not IN_CI:  # in CI an import error fails the run, as it should
    pytest.importorskip("playwright", reason="Playwright is not installed (the test extra)")

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)

# --- the input rules: what they refuse never reaches a page -----------------------------------


def _producer(**fields: Any) -> dict[str, Any]:
    return factories.producer_data(**fields)


def _place(url: str) -> dict[str, Any]:
    return {"name": "Cửa hàng", "kind": "shop", "url": url}


def _batch(**fields: Any) -> dict[str, Any]:
    return factories.batch_data(1, **fields)


REFUSED: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (ProducerCreate, _producer(phone=SCRIPT), "phone"),
    (ProducerCreate, _producer(phone=f"0299 {TEMPLATE}"), "phone"),
    (ProducerCreate, _producer(email=f"{SCRIPT}@htx.vn"), "email"),
    (ProducerCreate, _producer(email=f"htx{IMG}@htx.vn"), "email"),
    (ProducerCreate, _producer(email=f"htx@htx.vn{SVG}"), "email"),
    (ProducerCreate, _producer(registration_code=f"22{SCRIPT}"), "registration_code"),
    (RetailerIn, _place(JS_URL), "url"),
    (RetailerIn, _place(f" JavaScript:{SCRIPT}"), "url"),
    (RetailerIn, _place("java\tscript:window.__pwned=1"), "url"),
    (RetailerIn, _place("data:text/html,<script>window.__pwned=1</script>"), "url"),
    (RetailerIn, _place("vbscript:msgbox(1)"), "url"),
    (RetailerIn, _place("//evil.example/x"), "url"),
    (RetailerIn, _place("https://shopee.vn@evil.example/"), "url"),
    (RetailerIn, _place(f"https://shopee.vn/{IMG}"), "url"),  # spaces
    (BatchCreate, _batch(lot=SCRIPT), "lot"),
    (BatchCreate, _batch(lot="<svg onload=__p=1>"), "lot"),
    (BatchCreate, _batch(lot=TEMPLATE), "lot"),
    (BatchCreate, _batch(quantity=SCRIPT), "quantity"),
]


@pytest.mark.parametrize(
    ("model", "data", "field_name"),
    REFUSED,
    ids=[f"{model.__name__}.{name}-{i}" for i, (model, _, name) in enumerate(REFUSED)],
)
def test_a_rule_refuses_the_payloads_it_cannot_hold(
    model: type[BaseModel], data: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(data)
    assert {str(e["loc"][0]) for e in refused.value.errors()} == {field_name}


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true, and {reason}: .ci/run installs it", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module", params=backends())
def site(
    request: pytest.FixtureRequest,
    browser: Browser,
    keys_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[HostileSite]:
    # After the browser: where it is missing, no database is built only to be skipped.
    workdir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    with serve_hostile_site(request.param, keys_dir, workdir) as served:
        yield served


def _signed_in(browser: Browser, site: HostileSite, email: str) -> BrowserContext:
    """A browser that signed in through the login form, as a person does."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site.base}/portal/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click('form[action="/portal/login"] button[type="submit"]')
    assert "/portal/login" not in page.url, page.url
    page.close()
    return context


@pytest.fixture(scope="module")
def contexts(browser: Browser, site: HostileSite) -> Iterator[dict[str, BrowserContext]]:
    made = {
        "producer": _signed_in(browser, site, site.owner),
        "inspector": _signed_in(browser, site, site.inspector),
        "admin": _signed_in(browser, site, site.admin),
        "visitor": browser.new_context(),
    }
    yield made
    for context in made.values():
        context.close()


# --- what every page must and must not have --------------------------------------------------

SAFE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
# Text escaped twice would show its entities.
ENTITIES = ("&lt;", "&gt;", "&#34;", "&#39;", "&quot;", "&amp;amp;")
PROBE = """() => {
  const onAttributes = [], scriptUrls = [], links = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith('on')) onAttributes.push(`<${el.localName} ${name}="${a.value}">`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'srcdoc']
          .includes(name)) {
        const url = a.value.replace(/[\\u0000-\\u0020]/g, '').toLowerCase();
        if (/^(javascript|vbscript|data:text\\/html)/.test(url)) {
          scriptUrls.push(`<${el.localName} ${name}="${a.value}">`);
        }
        if (name === 'href') links.push(a.value);
      }
    }
  }
  return {
    pwned: typeof window.__pwned,
    p: typeof window.__p,
    scripts: document.querySelectorAll('script').length,
    embedded: [...document.querySelectorAll('iframe, frame, object, embed, base, applet')]
      .map(e => e.outerHTML),
    metas: [...document.querySelectorAll('meta[http-equiv]')]
      .map(e => `${e.httpEquiv.toLowerCase()}=${e.content}`),
    images: [...document.images].map(i => i.getAttribute('src')),
    onAttributes, scriptUrls, links,
    text: [document.title, document.body.innerText,
           ...[...document.querySelectorAll('input, textarea')].map(e => e.value),
           ...[...document.querySelectorAll('option')].map(o => o.text)].join('\\n'),
  };
}"""


def _squashed(text: str) -> str:
    """Text without its white space: a line break in a one-line field is dropped by the
    browser, and a page wraps text as it likes."""
    return "".join(text.split())


def _directives(csp: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            found.setdefault(words[0].lower(), words[1:])
    return found


def check_headers(headers: dict[str, str], *, portal: bool) -> None:
    csp = _directives(headers.get("content-security-policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts, f"no script policy in {csp}"
    for name in ("script-src", "script-src-elem", "script-src-attr", "default-src"):
        sources = set(csp.get(name, []))
        assert not sources & {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}
    assert csp.get("frame-ancestors") == ["'none'"]
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") in SAFE_REFERRER
    if portal:  # one person's data: never from a shared cache
        assert "no-store" in headers.get("cache-control", "")


@dataclass
class Watch:
    """What a page did besides loading: dialogs, requests, CSP reports, script errors."""

    base: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        # A page answered with 400 or 404 is logged as a failed resource; nothing else may be.
        problem = message.type == "error" or "Content Security Policy" in message.text
        if problem and not message.text.startswith("Failed to load resource"):
            self.console.append(message.text)

    def strays(self) -> list[str]:
        """Requests to anywhere but the site, or for the payloads' image "x"."""
        return [
            url
            for url in self.requests
            if not url.startswith(self.base + "/") or urlsplit(url).path.endswith("/x")
        ]


def check_page(page: Page, watch: Watch, site: HostileSite, shows: list[str]) -> dict[str, Any]:
    """The page ran nothing and made nothing of what was typed, and shows each of `shows`."""
    found: dict[str, Any] = page.evaluate(PROBE)
    assert watch.dialogs == [], "a dialog opened"
    assert (found["pwned"], found["p"]) == ("undefined", "undefined"), "a payload ran"
    assert found["scripts"] == 0, "a script element (the pages have none of their own)"
    assert found["onAttributes"] == [], "an on* attribute"
    assert found["scriptUrls"] == [], "a javascript: address"
    assert found["embedded"] == [], "an embedded frame, object or base"
    assert all(re.fullmatch(r"refresh=\d+", m) for m in found["metas"]), found["metas"]
    # Product photos, and a batch's scans chart (an SVG image drawn by the server).
    assert all(
        src.startswith("/media/") or re.fullmatch(r"/portal/batches/\d+/scans\.svg", src)
        for src in found["images"]
    ), found["images"]
    assert watch.strays() == [], "a request elsewhere, or for the payload's image"
    assert watch.console == [], "a script error or a Content-Security-Policy violation"
    text = _squashed(found["text"])
    assert [e for e in ENTITIES if e in text] == [], "text escaped twice"
    for value in shows:
        assert _squashed(value) in text, f"not shown as typed: {value}"
        if TEMPLATE in value:
            assert _squashed(value.replace(TEMPLATE, "49")) not in text, f"evaluated: {value}"
    return found


# --- the pages -------------------------------------------------------------------------------

PRODUCER = [
    "producer.name",
    "producer.address_line",
    "producer.commune",
    "producer.district",
    "producer.province",
    "producer.email",
    "ocop.certificate_no",
    "ocop.issuer",
]
PRODUCT = ["product.name", "product.brand", "product.characteristics"] + [
    f"product.standards.{i}" for i in range(4)
]
PLACES = ["place.0.name", "place.1.name", "place.1.address", "place.2.name", "place.2.address"]
PLACE_LINKS = ["place.0.url", "place.2.url"]
BATCH = [
    "batch.lot",
    "batch.quantity_unit",
    "origin.area",
    "origin.commune",
    "origin.district",
    "origin.province",
    "stage.0.stage",
    "stage.0.place",
    "stage.0.note",
    "stage.1.stage",
]
SIGNED = [*PRODUCT, "product.unit", *PRODUCER, *BATCH]  # what a batch record holds
RECORD = [*SIGNED, *PLACES]  # what its pages show

# A form sent with a mistake comes back showing what was typed: it fills the form in an open
# page, sends it and returns the answer, with what else the page must show.
Sender = Callable[[Page, HostileSite], tuple[Response, list[str]]]


def _send(page: Page, action: str) -> Response:
    """Send the form past the browser's own checks, as a script or an old browser would."""
    form = page.locator(f'form[action="{action}"]')
    form.evaluate("f => { f.noValidate = true; }")
    with page.expect_navigation() as answer:
        form.locator('button[type="submit"]').click()
    response = answer.value
    assert response is not None
    return response


def _error_beside(page: Page, name: str) -> None:
    assert page.locator(f'[id="e-{name}"]').count() == 1, f"no error beside {name}"


def _new_product(page: Page, site: HostileSite) -> tuple[Response, list[str]]:
    typed = site.typed
    for name in ("name", "brand", "unit", "characteristics"):
        page.fill(f'[name="{name}"]', typed[f"product.{name}"])
    page.fill('[name="standards"]', "\n".join(typed[f"product.standards.{i}"] for i in range(4)))
    page.fill('[name="gtin"]', f"893{TEMPLATE}")
    response = _send(page, "/portal/products/new")
    _error_beside(page, "gtin")
    return response, [f"893{TEMPLATE}"]


REFUSED_LOT = "<svg onload=__p=1>"  # GS1 characters have no space


def _new_batch(page: Page, site: HostileSite) -> tuple[Response, list[str]]:
    typed = site.typed
    page.fill('[name="lot"]', REFUSED_LOT)
    page.fill('[name="quantity"]', "5000")
    page.fill('[name="quantity_unit"]', typed["batch.quantity_unit"])
    page.fill('[name="expiry_date"]', "2030-01-01")
    page.fill('[name="price_vnd"]', "125.000")
    for part in ("area", "commune", "district", "province"):
        page.fill(f'[name="origin.{part}"]', typed[f"origin.{part}"])
    for part in ("stage", "place", "note"):
        page.fill(f'[name="stages.0.{part}"]', typed[f"stage.0.{part}"])
    response = _send(page, "/portal/batches/new")
    _error_beside(page, "lot")
    return response, [REFUSED_LOT]


def _correction(page: Page, site: HostileSite) -> tuple[Response, list[str]]:
    page.fill('[name="note"]', site.typed["correction.note"])
    page.fill('[name="quantity"]', SCRIPT)
    response = _send(page, f"/portal/batches/{site.batch_id}/correct")
    _error_beside(page, "quantity")
    return response, [site.typed["correction.note"], SCRIPT]


def _place_to_buy(page: Page, site: HostileSite) -> tuple[Response, list[str]]:
    name = f"Gian hàng {SVG}"
    page.fill('[name="places.3.name"]', name)
    page.fill('[name="places.3.url"]', JS_URL)
    response = _send(page, f"/portal/products/{site.product_id}/retailers")
    _error_beside(page, "places.3.url")
    return response, [name, JS_URL]


WRONG_EMAIL = f"{IMG}@htx.vn"


def _sign_in(page: Page, site: HostileSite) -> tuple[Response, list[str]]:
    page.fill("#email", WRONG_EMAIL)
    page.fill("#password", TEMPLATE)
    return _send(page, "/portal/login"), [WRONG_EMAIL]


@dataclass(frozen=True)
class Visit:
    who: str  # producer, inspector or visitor
    path: Callable[[HostileSite], str]
    shows: list[str]  # fields of HostileSite.typed
    status: int = 200
    links: list[str] = field(default_factory=list)  # fields whose value is a link's href
    send: Sender | None = None
    json: bool = False


def _portal(path: str) -> Callable[[HostileSite], str]:
    return lambda s: path.format(s=s)


VISITS: dict[str, Visit] = {
    "portal-overview": Visit(
        "producer",
        _portal("/portal/dashboard"),
        ["user.producer", "producer.name", "product.name", "batch.lot", "recalled.lot"],
    ),
    "portal-products": Visit(
        "producer", _portal("/portal/products"), ["user.producer", "product.name", "product.unit"]
    ),
    "portal-product": Visit(
        "producer",
        _portal("/portal/products/{s.product_id}"),
        [*PRODUCT, "product.unit", *PLACES, *PLACE_LINKS, "batch.lot", "recalled.lot"],
    ),
    "portal-batches": Visit(
        "producer", _portal("/portal/batches"), ["product.name", "batch.lot", "recalled.lot"]
    ),
    "portal-batch": Visit(
        "producer",
        _portal("/portal/batches/{s.batch_id}"),
        ["product.name", *BATCH, "correction.note"],
    ),
    "portal-recalled-batch": Visit(
        "producer",
        _portal("/portal/batches/{s.recalled_id}"),
        ["product.name", "recalled.lot", "recall.reason"],
    ),
    "portal-correct-form": Visit(
        "producer", _portal("/portal/batches/{s.batch_id}/correct"), ["product.name", *BATCH]
    ),
    "portal-new-batch-form": Visit("producer", _portal("/portal/batches/new"), ["product.name"]),
    "portal-labels": Visit(
        "producer", _portal("/portal/issuances/{s.issuance_id}"), ["product.name", "batch.lot"]
    ),
    "portal-tag-job": Visit(
        "producer", _portal("/portal/tag-jobs/{s.job_id}"), ["product.name", "batch.lot"]
    ),
    "portal-new-product-refused": Visit(
        "producer",
        _portal("/portal/products/new"),
        [*PRODUCT, "product.unit"],
        status=400,
        send=_new_product,
    ),
    "portal-new-batch-refused": Visit(
        "producer",
        _portal("/portal/batches/new"),
        [b for b in BATCH if not b.startswith(("batch.lot", "stage.1"))],
        status=400,
        send=_new_batch,
    ),
    "portal-correction-refused": Visit(
        "producer",
        _portal("/portal/batches/{s.batch_id}/correct"),
        ["product.name", *BATCH],
        status=400,
        send=_correction,
    ),
    "portal-place-refused": Visit(
        "producer",
        _portal("/portal/products/{s.product_id}"),
        ["product.name", *PLACES, *PLACE_LINKS],
        status=400,
        send=_place_to_buy,
    ),
    "portal-sign-in-refused": Visit(
        "visitor", _portal("/portal/login"), [], status=400, send=_sign_in
    ),
    "inspect-search": Visit(
        "inspector",
        lambda s: "/portal/inspect?q=" + quote(SCRIPT),
        ["user.inspector", "product.name", "batch.lot", "recalled.lot", "producer.name"],
    ),
    "inspect-batch": Visit(
        "inspector",
        _portal("/portal/inspect/batches/{s.batch_id}"),
        ["user.inspector", "product.name", "producer.name", "batch.lot", "correction.note"],
    ),
    "inspect-recalled-batch": Visit(
        "inspector",
        _portal("/portal/inspect/batches/{s.recalled_id}"),
        ["product.name", "recalled.lot", "recall.reason"],
    ),
    "portal-profile": Visit("producer", _portal("/portal/profile"), [*PRODUCER, "user.producer"]),
    "portal-history": Visit("producer", _portal("/portal/history"), []),
    "admin-overview": Visit(
        "admin", _portal("/portal/admin"), ["user.admin", "producer.name", "ocop.issuer"]
    ),
    "admin-producer": Visit(
        "admin",
        _portal("/portal/admin/producers/{s.producer_id}"),
        ["user.admin", *PRODUCER, "user.producer"],
    ),
    "admin-users": Visit("admin", _portal("/portal/admin/users"), ["user.inspector", "user.admin"]),
    "admin-audit": Visit(
        "admin",
        lambda s: "/portal/admin/audit?q=" + quote(SCRIPT),
        ["user.admin"],
    ),
    "public-batch": Visit(
        "visitor", lambda s: s.batch_path, [*RECORD, "correction.note"], links=PLACE_LINKS
    ),
    "public-batch-en": Visit(
        "visitor", lambda s: s.batch_path + "?lang=en", RECORD, links=PLACE_LINKS
    ),
    "public-earlier-version": Visit(
        "visitor",
        lambda s: s.batch_path + "?version=1",
        [*RECORD, "correction.note"],
        links=PLACE_LINKS,
    ),
    "public-recalled-batch": Visit(
        "visitor",
        lambda s: s.recalled_path,
        [*(k for k in RECORD if k != "batch.lot"), "recalled.lot", "recall.reason"],
    ),
    "public-tag": Visit("visitor", lambda s: s.tag_path, RECORD, links=PLACE_LINKS),
    "public-tag-en": Visit("visitor", lambda s: s.tag_path + "&lang=en", RECORD, links=PLACE_LINKS),
    "public-product": Visit(
        "visitor",
        lambda s: f"/01/{s.gtin}",
        [*PRODUCT, *PRODUCER, *PLACES, "batch.lot", "recalled.lot"],
        links=PLACE_LINKS,
    ),
    "public-lot-not-registered": Visit(
        "visitor",
        lambda s: f"/01/{s.gtin}/10/KHONG-CO",
        [*PRODUCT, *PRODUCER, *PLACES],
        status=404,
        links=PLACE_LINKS,
    ),
    "public-batch-json": Visit("visitor", lambda s: s.batch_path + "?format=json", [], json=True),
}


@pytest.mark.parametrize("name", VISITS)
def test_nothing_typed_runs_and_everything_typed_shows_as_text(
    contexts: dict[str, BrowserContext], site: HostileSite, name: str
) -> None:
    visit = VISITS[name]
    page = contexts[visit.who].new_page()
    watch = Watch(site.base)
    watch.attach(page)
    try:
        response = page.goto(site.base + visit.path(site), wait_until="load")
        assert response is not None
        shows = [site.typed[key] for key in visit.shows]
        if visit.send is not None:
            assert response.status == 200
            response, more = visit.send(page, site)
            shows += more
        assert response.status == visit.status, response.url
        check_headers(response.all_headers(), portal=visit.path(site).startswith("/portal"))
        found = check_page(page, watch, site, [] if visit.json else shows)
        for key in visit.links:
            assert site.typed[key] in found["links"], key
    finally:
        page.close()


# --- JSON: the data as typed, under a type no browser renders ---------------------------------


def _strings(data: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON document, with the name of the member that holds it."""
    if isinstance(data, str):
        yield key, data
    elif isinstance(data, dict):
        for name, value in data.items():
            yield from _strings(value, name)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value, key)


LINK_MEMBERS = ("href", "url", "anchor")


JSON_ANSWERS: dict[str, tuple[Callable[[HostileSite], str], str, list[str]]] = {
    "batch": (lambda s: s.batch_path + "?format=json", "application/json", SIGNED),
    "tag": (lambda s: s.tag_path + "&format=json", "application/json", SIGNED),
    "product": (
        lambda s: f"/01/{s.gtin}?format=json",
        "application/json",
        [*PRODUCT, *PRODUCER, *PLACES, *PLACE_LINKS],
    ),
    "linkset": (
        lambda s: s.batch_path + "?linkType=linkset",
        "application/linkset+json",
        ["product.name", "place.0.name", "place.2.name", *PLACE_LINKS],
    ),
}


@pytest.mark.parametrize("name", JSON_ANSWERS)
def test_json_answers_carry_the_text_as_typed_under_a_json_type(
    contexts: dict[str, BrowserContext], site: HostileSite, name: str
) -> None:
    path, media_type, shows = JSON_ANSWERS[name]
    answer = contexts["visitor"].request.get(site.base + path(site))
    assert answer.status == 200
    headers = answer.headers
    assert headers["content-type"].split(";")[0] == media_type
    check_headers(headers, portal=False)
    strings = list(_strings(answer.json()))
    for key in shows:
        assert any(site.typed[key] in text for _, text in strings), key
    links = [text for member, text in strings if member in LINK_MEMBERS]
    assert [u for u in links if not u.startswith(("http://", "https://", "/"))] == []


def test_the_first_place_to_buy_is_a_redirect_to_its_http_address_only(
    contexts: dict[str, BrowserContext], site: HostileSite
) -> None:
    answer = contexts["visitor"].request.get(
        f"{site.base}/01/{site.gtin}?linkType=gs1:hasRetailers", max_redirects=0
    )
    assert answer.status == 307
    assert answer.headers["location"] == site.typed["place.0.url"]


def test_the_inspectors_records_file_is_an_attachment_of_json(
    contexts: dict[str, BrowserContext], site: HostileSite
) -> None:
    answer = contexts["inspector"].request.get(
        f"{site.base}/portal/inspect/bundle.json?batch={site.batch_id}&batch={site.recalled_id}"
    )
    assert answer.status == 200
    headers = answer.headers
    assert headers["content-type"] == "application/json"
    assert headers["content-disposition"].startswith("attachment;")
    check_headers(headers, portal=True)
    assert len(answer.json()["batches"]) == 2


# --- the checks themselves: each catches what it looks for ------------------------------------

# A page with one payload let through, as a template slip would render it, under the site's
# script policy (which stops the payload running: the checks of the page itself must catch it),
# and the check that catches it; "escaped" is the control, which passes.
SLIPS = {
    "escaped": (f"<p>Tỉnh {TEMPLATE} &lt;b&gt; &#39;&gt;&lt;svg onload=x&gt;</p>", None),
    "script": (f"<p>{SCRIPT}</p>", "a script element"),
    "img-onerror": (f'<input value="{IMG}">', r"an on\* attribute"),
    "svg-onload": (f"<a title='{SVG}'>Cửa hàng</a>", r"an on\* attribute"),
    "javascript-link": (f'<a href="{JS_URL}">Cửa hàng</a>', "a javascript: address"),
    "template-evaluated": ("<p>Tỉnh 49</p>", "not shown as typed"),
    "escaped-twice": ("<p>Tỉnh &amp;lt;b&amp;gt;</p>", "text escaped twice"),
}


@pytest.mark.parametrize("slip", SLIPS)
def test_the_checks_catch_a_page_that_lets_a_payload_through(
    contexts: dict[str, BrowserContext], site: HostileSite, slip: str
) -> None:
    markup, caught_by = SLIPS[slip]
    page = contexts["visitor"].new_page()
    html = f"<!doctype html><title>Gạo ST25</title><body>{markup}</body>"
    policy = {"content-security-policy": "default-src 'self'"}
    page.route(
        f"{site.base}/slip",
        lambda route: route.fulfill(
            body=html, content_type="text/html; charset=utf-8", headers=policy
        ),
    )
    watch = Watch(site.base)
    watch.attach(page)
    try:
        page.goto(f"{site.base}/slip", wait_until="load")
        shows = [f"Tỉnh {TEMPLATE}"] if slip in ("escaped", "template-evaluated") else []
        if caught_by is None:
            check_page(page, watch, site, shows)
        else:
            with pytest.raises(AssertionError, match=caught_by):
                check_page(page, watch, site, shows)
    finally:
        page.close()
