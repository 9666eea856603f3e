"""Where to buy, as the public pages and the linkset show it (issue 8).

The list is the producer's word and is not signed: the pages show it below the record, saying
so. Only an http(s) address that the input rule leaves as it is becomes a link (an address
changed in the database behind the service's back is shown as no link at all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from markupsafe import escape
from sqlalchemy.orm import Session

from tracetag.products.retailer_models import ProductRetailer
from tracetag.products.retailer_schemas import linkable_url
from tracetag.products.retailers import list_retailers

# A page lists the first places that fit both limits, in the producer's order, and counts the
# rest: twenty places of full length would double a page past its 15 KB (issue 7), and a phone
# screen shows a handful anyway. The linkset lists every web address.
SHOWN_MAX = 5
SHOWN_BYTES = 4_000
_ITEM_MARKUP_BYTES = 150  # tags, separators, the kind's words and the line breaks of one item


@dataclass(frozen=True)
class PlaceToBuy:
    name: str
    kind: str
    href: str | None  # an http(s) address a page may link to, or None
    address: str | None

    @property
    def host(self) -> str:
        """The host a link leads to, shown beside it: shopee.vn, tiki.vn."""
        if self.href is None:
            return ""
        return urlsplit(self.href).hostname or ""

    def page_bytes(self) -> int:
        """About what this place adds to a page's HTML, escaped, in UTF-8."""
        texts = (self.name, self.href or "", self.host, self.address or "")
        return _ITEM_MARKUP_BYTES + sum(len(str(escape(t)).encode("utf-8")) for t in texts)


@dataclass(frozen=True)
class Shown:
    """The places a page lists, and how many more it leaves out."""

    places: tuple[PlaceToBuy, ...]
    more: int


def places_to_buy(rows: Iterable[ProductRetailer]) -> tuple[PlaceToBuy, ...]:
    return tuple(
        PlaceToBuy(name=r.name, kind=r.kind, href=linkable_url(r.url), address=r.address)
        for r in rows
    )


def load_places_to_buy(session: Session, product_id: int) -> tuple[PlaceToBuy, ...]:
    return places_to_buy(list_retailers(session, product_id=product_id))


def shown_on_page(places: tuple[PlaceToBuy, ...]) -> Shown:
    """The first places within SHOWN_MAX and SHOWN_BYTES; always the first one, which takes at
    most about 4.4 KB (every field at its longest, every character escaped to five bytes)."""
    count = used = 0
    for place in places[:SHOWN_MAX]:
        used += place.page_bytes()
        if count and used > SHOWN_BYTES:
            break
        count += 1
    return Shown(places=places[:count], more=len(places) - count)


NOTHING_SHOWN = Shown(places=(), more=0)
