"""Where to buy a product, as the API takes and gives it; the rule for a retailer's web address."""

from __future__ import annotations

import re
from typing import Annotated, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tracetag.core.fields import Text, ValuesOf, column_length, from_row
from tracetag.products.retailer_models import MAX_RETAILERS, ProductRetailer, RetailerKind

URL_MAX = column_length(ProductRetailer.url)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host name a consumer can read (RFC 1123 labels, a top-level domain of letters or IDNA's
# xn--): no IP address, no single-label name such as localhost.
_HOST = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
# What RFC 3986 §3.3-3.5 lets stand in a path, query or fragment; anything else is
# percent-encoded (UTF-8), and a % that starts no escape becomes %25.
_PATH_SAFE = "/!$&'()*+,;=:@%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _url_error(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


def _encoded(part: str, safe: str) -> str:
    part = _LONE_PERCENT.sub("%25", part)
    return _ESCAPE.sub(lambda m: m.group().upper(), quote(part, safe=safe))


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _url_error("url_host", "the host name is not valid") from exc


def normalize_url(value: str) -> str:
    """A retailer's web address as it is stored, or PydanticCustomError saying what is wrong.

    Only http and https: a page links to it, and any other scheme (javascript:, data:, file:)
    could run or open something on the consumer's phone. No user name or password, which can
    dress one host up as another (https://shopee.vn@example.com), and a host name rather than an
    IP address. Stored normalized (RFC 3986 §6.2.2): scheme and host in lower case, the host in
    ASCII (IDNA), no default port, "/" for an empty path, other characters percent-encoded.
    Normalizing a stored address changes nothing, which is how a page checks one before linking.
    """
    if any(ch.isspace() for ch in value):
        raise _url_error("url_space", "a web address has no spaces; copy it from the browser")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _url_error("url_parse", "not a web address") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not value[len(scheme) :].startswith("://"):
        raise _url_error("url_scheme", "a web address starts with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise _url_error("url_userinfo", "a web address here has no user name or password")
    host = _ascii_host((parts.hostname or "").rstrip("."))
    if not _HOST.match(host):
        raise _url_error("url_host", "the address needs a host name such as shopee.vn")
    if port == 0:
        raise _url_error("url_port", "port 0 is no port; leave the port out")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    normal = urlunsplit(
        (
            scheme,
            netloc,
            _encoded(parts.path or "/", _PATH_SAFE),
            _encoded(parts.query, _QUERY_SAFE),
            _encoded(parts.fragment, _QUERY_SAFE),
        )
    )
    if len(normal) > URL_MAX:
        raise _url_error(
            "url_too_long", f"the address is longer than {URL_MAX} characters once encoded"
        )
    return normal


def linkable_url(stored: str | None) -> str | None:
    """A stored address a page may link to: one that the input rule leaves as it is; else None."""
    if stored is None:
        return None
    try:
        return stored if normalize_url(stored) == stored else None
    except ValueError:  # PydanticCustomError is a ValueError
        return None


WebAddress = Annotated[
    str,
    Text.for_column(ProductRetailer.url),
    AfterValidator(normalize_url),
    Field(examples=["https://shopee.vn/htx.thanhphu"]),
]


class RetailerIn(BaseModel):
    """One place to buy the product: a web address, a street address, or both."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Text.for_column(ProductRetailer.name)]
    kind: Annotated[str, ValuesOf(RetailerKind)]
    url: WebAddress | None = None
    address: Annotated[str, Text.for_column(ProductRetailer.address)] | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.url is None and self.address is None:
            raise ValueError("give a web address (url), a street address (address), or both")
        return self


class RetailersIn(BaseModel):
    """The whole list, in the order a consumer sees it; it replaces the list stored."""

    model_config = ConfigDict(extra="forbid")

    retailers: list[RetailerIn] = Field(max_length=MAX_RETAILERS)


class RetailerOut(BaseModel):
    name: str
    kind: str
    url: str | None
    address: str | None

    @classmethod
    def of(cls, retailer: ProductRetailer) -> RetailerOut:
        """The API's view of a stored retailer (the one mapping of retailer rows)."""
        return from_row(cls, retailer)


class RetailersOut(BaseModel):
    product_id: int
    retailers: list[RetailerOut]
