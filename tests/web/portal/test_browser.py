"""A producer's whole round in Chromium, on each database: sign in, a product with its photo and
a place to buy, a batch with its stages, a correction, 100 tags printed and read back from the
PDF, 20,000 tags made in the background, a recall; then the public pages, an inspector's look,
and signing out. The same server serves a second round done with the keyboard alone.

Each page is screenshotted in Vietnamese on an office PC (1366×768) and on a phone (360×740),
under $TRACETAG_ARTIFACTS/portal/<backend>/<page>-<pc|phone>.png. On either screen, axe-core
may find nothing serious or critical on a portal page (its reports: …/axe/<page>-<screen>.json).
Chromium as tests/browsers.py finds it: under CI=true a missing browser fails these tests.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from babel.messages.pofile import read_po
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from sqlalchemy import select

from tests.browsers import ARTIFACTS, need_playwright
from tests.databases import backends
from tests.factories import random_gtin13
from tests.labels.photo import rasterize, read_qr_codes
from tests.web.portal.served import Login, Portal, photo_jpeg, serve_portal
from tests.web.public.site import PHONE
from tracetag.core.database import make_engine
from tracetag.core.i18n import LOCALE_DIR, gettext
from tracetag.settings import Settings
from tracetag.tags.models import Tag

pytestmark = pytest.mark.slow
need_playwright()

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, FileChooser, Page  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

PC: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}, "locale": "vi-VN"}
PHONE_SCREEN = PHONE["viewport"]
SHOP_URL = "https://shopee.vn/mat-ong-hoa-nhan-ba-tri-500g-i.20260501"
RECORD_VIEW_TTL = Settings.model_fields["record_view_ttl"].default  # the server runs with it
JOB_TIMEOUT_MS = 180_000  # 20,000 signed tags: seconds here, far longer on a loaded CI machine


# Findings reported and left for a decision; still written to the axe reports. (None now.)
KNOWN: set[tuple[str, str]] = set()


def t(msgid: str) -> str:
    """A portal string as a Vietnamese page says it."""
    return gettext("vi", msgid)


def _english_phrases() -> list[str]:
    """The catalog's English phrases of two words or more that Vietnamese pages say otherwise."""
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    return [
        m.id
        for m in catalog
        if isinstance(m.id, str)
        and " " in m.id
        and "%(" not in m.id
        and m.string
        and m.string != m.id
    ]


ENGLISH = _english_phrases()


@dataclass
class Seen:
    """What a round saw: a screenshot of each page on both screens, axe-core's findings, any
    English phrase left on a Vietnamese page, and any page wider than the phone."""

    folder: Path
    axe: Axe
    serious: dict[str, list[str]] = field(default_factory=dict)
    english: dict[str, list[str]] = field(default_factory=dict)
    too_wide: dict[str, int] = field(default_factory=dict)

    def shoot(self, page: Page, name: str, *, check: bool = True) -> None:
        """Both screenshots of a portal page (and, with check, axe-core over it)."""
        self._retrying(lambda: self._shoot(page, name, check))

    def shoot_phone(self, page: Page, name: str) -> None:
        """A public page opened on a phone, as it shows there (axe-core checks each kind of
        public page in tests/web/public/test_browser.py)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=self.folder / f"{name}-phone.png", full_page=True)
        self._read(page, name)
        self._fits(page, name)

    def _shoot(self, page: Page, name: str, check: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._read(page, name)
        for screen, size in (("pc", PC["viewport"]), ("phone", PHONE_SCREEN)):
            page.set_viewport_size(size)
            page.screenshot(path=self.folder / f"{name}-{screen}.png", full_page=True)
            if check:  # on both screens: a table that scrolls on a phone is another page to axe
                self._check(page, name, screen)
        self._fits(page, name)
        page.set_viewport_size(PC["viewport"])

    @staticmethod
    def _retrying(action: Any) -> None:
        """The job page reloads itself: what it interrupts starts again on the new page."""
        for attempt in range(3):
            try:
                action()
                return
            except PlaywrightError as exc:
                if attempt == 2 or ("navigat" not in str(exc) and "destroyed" not in str(exc)):
                    raise

    def _check(self, page: Page, name: str, screen: str) -> None:
        results = self.axe.run(page)
        violations = results.response["violations"]
        if violations:
            reports = self.folder / "axe"
            reports.mkdir(exist_ok=True)
            (reports / f"{name}-{screen}.json").write_text(json.dumps(violations, indent=2))
        serious = [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in violations
            if v["impact"] in ("serious", "critical") and (name, v["id"]) not in KNOWN
        ]
        if serious:
            self.serious[f"{name}-{screen}"] = serious

    def _read(self, page: Page, name: str) -> None:
        text = page.inner_text("body")
        left = [phrase for phrase in ENGLISH if phrase in text]
        if left:
            self.english[name] = left

    def _fits(self, page: Page, name: str) -> None:
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        if width > PHONE_SCREEN["width"]:
            self.too_wide[name] = width


@pytest.fixture(scope="module", params=backends())
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with serve_portal(request.param, tmp_path_factory.mktemp(f"portal-{request.param}")) as served:
        yield served


@pytest.fixture
def pc(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PC, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(**PHONE, locale="vi-VN")
    yield context
    context.close()


@pytest.fixture
def seen(portal: Portal) -> Seen:
    return Seen(ARTIFACTS / "portal" / portal.backend, Axe())


# The round, step by step -------------------------------------------------------------------


def _sign_in(page: Page, portal: Portal, who: Login, seen: Seen | None, home: str) -> None:
    page.goto(f"{portal.base}/portal/login")
    page.locator("#email").press_sequentially(who.email)
    page.locator("#password").press_sequentially(who.password)
    if seen is not None:
        seen.shoot(page, "login")
    page.locator("#password").press("Enter")
    page.wait_for_url(f"**{home}")


@dataclass(frozen=True)
class Product:
    name: str
    gtin: str
    shop: str


def _new_product(page: Page, seen: Seen) -> Product:
    page.get_by_role("navigation").get_by_role("link", name=t("Products")).click()
    page.wait_for_url("**/portal/products")
    seen.shoot(page, "products")
    page.get_by_role("link", name=t("New product")).click()
    page.wait_for_url("**/portal/products/new")
    name, gtin = "Mật ong hoa nhãn Ba Tri", random_gtin13()
    page.locator("#f-name").fill(name)
    page.locator("#f-brand").fill("Ong Xanh Bến Tre")
    page.locator("#f-gtin").fill(gtin)
    page.locator("#f-category").select_option("food")
    page.locator("#f-unit").fill("chai 500 ml")
    page.locator("#f-characteristics").fill("Mật ong nguyên chất từ vườn nhãn ven sông Hàm Luông.")
    page.locator("#f-standards").fill("VietGAP\nTCCS 02:2025/OX")
    page.locator("#f-image").set_input_files(
        {"name": "mat-ong.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
    )
    seen.shoot(page, "product-new")
    page.get_by_role("button", name=t("Save the product")).click()
    page.wait_for_url("**/portal/products/*?done=created")
    photo = page.locator("img.thumb")
    assert photo.get_attribute("alt") == name
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0"), "the photo did not load"

    shop = "Gian hàng Ong Xanh trên Shopee"
    page.locator("#f-places\\.0\\.name").fill(shop)
    page.locator("#f-places\\.0\\.kind").select_option("marketplace")
    page.locator("#f-places\\.0\\.url").fill(SHOP_URL)
    page.get_by_role("button", name=t("Save the places to buy")).click()
    page.wait_for_url("**?done=places")
    assert page.locator("#f-places\\.0\\.url").input_value() == SHOP_URL
    assert page.locator("#f-places\\.0\\.kind").input_value() == "marketplace"
    seen.shoot(page, "product")
    return Product(name, "0" + gtin, shop)  # as GTIN-14, the form the service keeps


def _new_batch(page: Page, seen: Seen, product: Product) -> str:
    """The batch page's path."""
    page.get_by_role("navigation").get_by_role("link", name=t("Batches")).click()
    page.wait_for_url("**/portal/batches")
    seen.shoot(page, "batches")
    page.get_by_role("main").get_by_role("link", name=t("New batch")).click()
    page.wait_for_url("**/portal/batches/new")
    page.locator("#f-product_id").select_option(label=f"{product.name} ({product.gtin})")
    page.locator("#f-lot").fill("MO-2605-01")
    page.locator("#f-quantity").fill("400")
    page.locator("#f-quantity_unit").fill("chai")
    packed = date.today() - timedelta(days=3)  # fresh whenever the test runs
    page.locator("#f-production_date").fill(packed.isoformat())
    page.locator("#f-expiry_date").fill((packed + timedelta(days=730)).isoformat())
    page.locator("#f-price_vnd").fill("185.000")
    page.locator("#f-origin\\.area").fill("Vườn nhãn ấp Phú Lợi")
    page.locator("#f-origin\\.commune").fill("Xã Phú Ngãi")
    page.locator("#f-origin\\.district").fill("Huyện Ba Tri")
    page.locator("#f-origin\\.province").fill("Tỉnh Bến Tre")
    stages = [
        ("Quay mật", (packed - timedelta(days=12)).isoformat(), "Vườn nhãn ấp Phú Lợi"),
        ("Lọc và đóng chai", packed.isoformat(), ""),
    ]
    for i, (stage, day, place) in enumerate(stages):
        page.locator(f"#f-stages\\.{i}\\.stage").fill(stage)
        page.locator(f"#f-stages\\.{i}\\.date").fill(day)
        page.locator(f"#f-stages\\.{i}\\.place").fill(place)
    seen.shoot(page, "batch-new")
    page.get_by_role("button", name=t("Sign and save the batch")).click()
    page.wait_for_url("**/portal/batches/*?done=created")
    heading = page.get_by_role("heading", name=t("Production stages"), exact=True)
    listed = heading.locator("xpath=following-sibling::ol[1]/li")
    assert listed.count() == 2
    assert "Quay mật" in listed.nth(0).inner_text()
    assert "Lọc và đóng chai" in listed.nth(1).inner_text()
    return urlsplit(page.url).path


def _history(page: Page) -> list[tuple[str, str]]:
    """(version, signature column) of each row of the record history, newest first."""
    heading = page.get_by_role("heading", name=t("Record history"), exact=True)
    rows = heading.locator("xpath=following-sibling::div[1]//tbody/tr")
    return [
        (r.locator("td").first.inner_text(), r.locator("td").last.inner_text()) for r in rows.all()
    ]


def _correct(page: Page, seen: Seen) -> None:
    page.get_by_role("link", name=t("Correct the record")).click()
    page.wait_for_url("**/correct")
    page.locator("#f-note").fill("Điều chỉnh giá niêm yết theo giá thu mua mới")
    page.locator("#f-price_vnd").fill("175000")
    seen.shoot(page, "batch-correct")
    page.get_by_role("button", name=t("Sign the new version")).click()
    page.wait_for_url("**?done=corrected")
    assert "175.000" in page.locator(".panel dl").inner_text()
    history = _history(page)
    assert [version for version, _ in history] == ["2", "1"]
    assert all(t("valid signature") in check for _, check in history), history


def _issue_100(page: Page, seen: Seen, portal: Portal, product: Product) -> list[str]:
    """The Digital Links read back from the first sheet of the PDF."""
    page.locator("#f-count").fill("100")
    page.get_by_role("button", name=t("Issue tags")).click()
    page.wait_for_url("**/portal/issuances/*?done=issued")
    issuance_id = int(page.url.split("/portal/issuances/")[1].split("?")[0])
    page.get_by_label(t("A4 sheet, 8 large labels of 99.1 × 67.7 mm (2 × 4)")).check()
    page.get_by_role("button", name=t("Show the preview")).click()
    page.wait_for_url("**layout=a4-8")
    assert page.locator("svg.sheet rect[stroke-dasharray]").count() == 8
    seen.shoot(page, "issuance")
    with page.expect_download() as download:
        page.get_by_role("link", name=t("Labels (PDF)")).click()
    pdf = Path(download.value.path()).read_bytes()
    sheets = rasterize(pdf)
    assert len(sheets) == 13  # 100 labels, 8 a sheet
    links = read_qr_codes(sheets[0])
    assert len(links) == 8

    engine = make_engine(portal.database_url)
    with engine.connect() as db:
        issued = set(db.scalars(select(Tag.serial).where(Tag.issuance_id == issuance_id)))
    engine.dispose()
    assert len(issued) == 100
    serials = []
    for link in links:
        # The origin in capitals, which QR codes store more compactly (alphanumeric mode).
        assert link.lower().startswith(f"{portal.base}/01/")
        parsed = {e.ai.ai: e.value for e in GS1DigitalLinkURI.parse(link).element_strings}
        assert parsed["01"] == product.gtin
        assert parsed["10"] == "MO-2605-01"
        assert parsed["8030"]  # signed tags
        serials.append(parsed["21"])
    assert len(set(serials)) == 8 and set(serials) <= issued
    return links


def _scan(links: list[str]) -> None:
    """Phones scan five labels, and one copied label with a forged signature."""
    with httpx.Client(timeout=15) as client:
        for n, link in enumerate(links[:5]):
            agent = f"Mozilla/5.0 (Linux; Android 14; phone-{n}) Chrome/130.0 Mobile"
            client.get(link, headers={"User-Agent": agent}).raise_for_status()
        forged = links[5][:-3] + ("AAA" if not links[5].endswith("AAA") else "BBB")
        client.get(forged, headers={"User-Agent": "Mozilla/5.0 (Linux; Android 13) Chrome/129.0"})


def _issue_20000(page: Page, seen: Seen, batch: str, portal: Portal) -> None:
    page.goto(f"{portal.base}{batch}")
    page.locator("#f-count").fill("20000")
    page.get_by_role("button", name=t("Issue tags")).click()
    page.wait_for_url("**/portal/tag-jobs/*")
    progress = page.locator("progress#progress")
    assert progress.is_visible() and progress.get_attribute("max") == "20000"
    assert page.get_by_role("link", name=t("Stop updating this page")).is_visible()
    seen.shoot(page, "tag-job")
    labels = page.get_by_role("link", name=t("Print labels"))
    labels.wait_for(timeout=JOB_TIMEOUT_MS)  # across the page's own reloads
    assert "20.000" in page.locator("[role=status]").inner_text()
    assert progress.count() == 0
    assert page.get_by_role("link", name=t("Stop updating this page")).count() == 0
    seen.shoot(page, "tag-job-done")
    labels.click()
    page.wait_for_url("**/portal/issuances/*")
    assert "20.000" in page.locator("main").inner_text()


def _recall(page: Page, seen: Seen, batch: str, portal: Portal) -> None:
    page.goto(f"{portal.base}{batch}")
    page.locator("#f-reason").fill("Một số chai bị rò rỉ nắp trong khi vận chuyển")
    page.get_by_label(t("I confirm the recall of this batch")).check()
    page.get_by_role("button", name=t("Recall the batch")).click()
    page.wait_for_url("**?done=recalled")
    assert [version for version, _ in _history(page)] == ["3", "2", "1"]
    seen.shoot(page, "batch-recalled", check=False)


def _until_recalled(page: Page, tag: str) -> None:
    """Open the tag's page until it says recalled: a tag page may show a record view checked
    up to record_view_ttl (10) seconds before (web/public/view_cache.py)."""
    deadline = time.monotonic() + RECORD_VIEW_TTL + 10
    while True:
        page.goto(tag)
        alert = page.locator("[role=alert] h1")
        if alert.count() and t("This batch has been recalled") in alert.inner_text():
            return
        assert time.monotonic() < deadline, "the tag's page does not say the batch is recalled"
        page.wait_for_timeout(2000)


def test_a_producers_round(
    portal: Portal, browser: Browser, pc: BrowserContext, phone: BrowserContext, seen: Seen
) -> None:
    page = pc.new_page()
    # 1. Sign in with the login `tracetag demo` printed.
    _sign_in(page, portal, portal.producer, seen, "/portal/dashboard")
    seen.shoot(page, "dashboard")
    # 2. A product with its photo and an e-commerce floor where it is sold.
    product = _new_product(page, seen)
    # 3. A batch with two production stages.
    batch = _new_batch(page, seen, product)
    seen.shoot(page, "batch")
    # 4. A correction: version 2, its signature valid.
    _correct(page, seen)
    # 5. 100 tags, their labels printed as a PDF and read back.
    links = _issue_100(page, seen, portal, product)
    _scan(links)
    page.goto(f"{portal.base}{batch}")
    summary = t("%(genuine)s scans of genuine labels, %(suspicious)s suspicious.")
    assert summary % {"genuine": 5, "suspicious": 1} in page.locator("main").inner_text()
    seen.shoot(page, "batch-scans", check=False)
    public_batch = page.locator(f"dd > a[href^='{portal.base}/01/']").get_attribute("href")
    assert public_batch is not None
    # 6. 20,000 tags: a job, its page following it until the labels are ready.
    _issue_20000(page, seen, batch, portal)
    # 7. A recall, which a tag's public page then says.
    _recall(page, seen, batch, portal)
    on_phone = phone.new_page()
    _until_recalled(on_phone, links[7] + "&lang=vi")
    seen.shoot_phone(on_phone, "public-tag-recalled")
    # 8. The batch's public page on a phone shows where to buy.
    on_phone.goto(public_batch + "?lang=vi")
    shops = on_phone.locator("section#where-to-buy")
    assert shops.get_by_role("heading").inner_text() == "Nơi bán"
    assert shops.get_by_role("link", name=product.shop).get_attribute("href") == SHOP_URL
    seen.shoot_phone(on_phone, "public-batch")
    # 9. An inspector finds the batch by its link and reads every version's check.
    inspector = browser.new_context(**PC)
    try:
        look = inspector.new_page()
        _sign_in(look, portal, portal.inspector, None, "/portal/inspect")
        look.locator("#q").fill(public_batch)
        look.locator("#q").press("Enter")
        look.wait_for_url("**/portal/inspect?q=*")
        found = look.locator("main tbody tr")
        assert found.count() == 1
        seen.shoot(look, "inspect")
        found.get_by_role("link", name=product.name).click()
        look.wait_for_url("**/portal/inspect/batches/*")
        history = _history(look)
        assert [version for version, _ in history] == ["3", "2", "1"]
        assert all(t("valid signature") in check for _, check in history), history
        seen.shoot(look, "inspect-batch")
    finally:
        inspector.close()
    # 10. Signed out, the portal asks to sign in again.
    page.get_by_role("button", name=t("Sign out")).click()
    page.wait_for_url("**/portal/login?done=logout")
    assert page.get_by_role("status").inner_text() == t("You have signed out.")
    page.goto(f"{portal.base}/portal/dashboard")
    page.wait_for_url("**/portal/login?next=/portal/dashboard")
    assert page.get_by_role("heading", level=1).inner_text() == t("Sign in")
    seen.shoot(page, "signed-out", check=False)

    assert (seen.serious, seen.english, seen.too_wide) == ({}, {}, {}), (
        f"axe-core, serious or critical: {seen.serious}; "
        f"English on Vietnamese pages: {seen.english}; "
        f"wider than a {PHONE_SCREEN['width']} px phone: {seen.too_wide}"
    )


# The keyboard alone ------------------------------------------------------------------------

FOCUS_SHOWN = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
}"""


def _choose_file_by_keyboard(page: Page) -> FileChooser:
    """Open the focused file input's chooser with Space, or Enter: a busy browser sometimes
    lets the first key press go by without opening it (seen once in CI, on one database)."""
    for key in ("Space", "Enter", "Space"):
        try:
            with page.expect_file_chooser(timeout=5_000) as chooser:
                page.keyboard.press(key)
            return chooser.value
        except PlaywrightTimeoutError:
            continue
    raise AssertionError("the focused file input opened no file chooser from the keyboard")


def _focused(page: Page, selector: str) -> bool:
    return bool(page.evaluate("s => document.activeElement?.matches(s) ?? false", selector))


def _tab_to(page: Page, selector: str, most: int = 40) -> None:
    """Tab until the element is focused, and see each stop show its focus."""
    presses = 0
    while not _focused(page, selector):
        assert presses < most, f"{selector} not reached in {most} tabs"
        page.keyboard.press("Tab")
        presses += 1
        where = page.evaluate("document.activeElement?.outerHTML.slice(0, 120)")
        assert page.evaluate(FOCUS_SHOWN) is True, f"focus not visible on {where}"


def _tab_through(page: Page, most: int = 200) -> int:
    """Tab from the top of a freshly loaded page to past its last stop, each stop showing its
    focus; how many stops."""
    page.reload()
    for stops in range(most):
        page.keyboard.press("Tab")
        shown = page.evaluate(FOCUS_SHOWN)
        if shown is None:  # past the last stop: the focus left the page
            return stops
        where = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
        assert shown is True, f"focus not visible on {where}"
    raise AssertionError(f"more than {most} stops")


def _skip_to_main(page: Page) -> None:
    """The first Tab shows the skip link on screen; Enter moves on to the page's content."""
    page.keyboard.press("Tab")
    assert _focused(page, "a.skip")
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the skip link stays off screen"
    assert page.evaluate(FOCUS_SHOWN) is True
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null"), "Tab left main"


def test_keyboard_alone_signs_in_and_adds_a_product(
    portal: Portal, pc: BrowserContext, seen: Seen
) -> None:
    page = pc.new_page()
    page.goto(f"{portal.base}/portal/login")
    assert _focused(page, "#email")  # autofocus
    page.keyboard.type(portal.producer.email)
    page.keyboard.press("Tab")
    assert _focused(page, "#password") and page.evaluate(FOCUS_SHOWN) is True
    page.keyboard.type(portal.producer.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/dashboard")

    _skip_to_main(page)
    _tab_to(page, "main a[href='/portal/products/new']")
    seen.folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=seen.folder / "keyboard-focus-pc.png")  # the focus ring, as it shows
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/products/new")

    gtin = random_gtin13()
    _skip_to_main(page)
    _tab_to(page, "#f-name")
    page.keyboard.type("Bánh pía sầu riêng Vũng Thơm")
    _tab_to(page, "#f-gtin")
    page.keyboard.type(gtin)
    _tab_to(page, "#f-category")
    page.keyboard.press("ArrowDown")  # the next group: drinks
    assert page.locator("#f-category").input_value() == "beverage"
    page.keyboard.press("ArrowUp")
    _tab_to(page, "#f-unit")
    page.keyboard.type("hộp 4 cái")
    _tab_to(page, "#f-image")
    _choose_file_by_keyboard(page).set_files(
        {"name": "banh-pia.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
    )
    _tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/products/*?done=created")
    assert page.get_by_role("heading", level=1).inner_text() == "Bánh pía sầu riêng Vũng Thơm"
    assert gtin in page.locator("main dl").inner_text()
    assert page.locator("img.thumb").evaluate("img => img.complete && img.naturalWidth > 0")
    # Every stop of the product page, its forms for the photo and the places to buy included.
    assert _tab_through(page) > 20


def test_a_business_signs_up_on_a_phone_and_an_admin_approves_it_at_the_office(
    portal: Portal, phone: BrowserContext, pc: BrowserContext, seen: Seen
) -> None:
    newcomer = phone.new_page()
    newcomer.goto(f"{portal.base}/portal/login")
    newcomer.get_by_role("link", name=t("Sign up your business")).click()
    newcomer.wait_for_url("**/portal/signup")
    code = f"HTX-{secrets.token_hex(3).upper()}"
    fields = {
        "#f-name": "Hợp tác xã Chè Shan tuyết Suối Giàng",
        "#f-registration_code": code,
        "#f-address_line": "Thôn Pang Cáng",
        "#f-commune": "Xã Suối Giàng",
        "#f-province": "Tỉnh Yên Bái",
        "#f-ocop\\.stars": "4",
        "#f-ocop\\.certificate_no": "312/QĐ-UBND",
        "#f-ocop\\.issuer": "UBND tỉnh Yên Bái",
        "#f-ocop\\.issued_on": "2025-08-15",
        "#f-account_name": "Giàng A Páo",
        "#f-account_email": f"pao.{code.lower()}@che.example",
        "#f-password": "chè shan tuyết 2026",
        "#f-password_again": "chè shan tuyết 2026",
    }
    newcomer.locator("#f-kind").select_option("cooperative")
    for selector, value in fields.items():
        newcomer.locator(selector).fill(value)
    seen.shoot(newcomer, "signup")
    newcomer.get_by_role("button", name=t("Sign up"), exact=True).click()
    newcomer.wait_for_url("**/portal/dashboard?done=signed-up")
    assert t("Waiting for approval.") in newcomer.locator("main").inner_text()
    seen.shoot(newcomer, "signed-up")

    office = pc.new_page()
    _sign_in(office, portal, portal.admin, None, "/portal/admin")
    seen.shoot(office, "admin")
    office.get_by_role("link", name=fields["#f-name"]).first.click()
    office.wait_for_url("**/portal/admin/producers/*")
    assert "312/QĐ-UBND" in office.locator("main").inner_text()
    seen.shoot(office, "admin-producer")
    office.get_by_role("button", name=t("Approve")).click()
    office.wait_for_url("**?done=approve")
    assert t("Approved") in office.locator("main").inner_text()

    newcomer.goto(f"{portal.base}/portal/dashboard")
    assert t("Waiting for approval.") not in newcomer.locator("main").inner_text()
    office.goto(f"{portal.base}/portal/admin/audit?q=producer.approve")
    assert "producer.approve" in office.locator("main").inner_text()
    seen.shoot(office, "audit")
    assert not seen.serious, seen.serious
    assert not seen.english, seen.english
    assert not seen.too_wide, seen.too_wide
