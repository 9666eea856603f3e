"""What a GS1-Conformant resolver says, pure: link types, RFC 9264 linksets, the description file.

GS1-Conformant Resolver Standard 1.1 (https://ref.gs1.org/standards/resolver/), the linkset format
of RFC 9264 and the Link header of RFC 8288. The web layer (web/public/resolver.py) answers with
these; nothing here reads a request or the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

GS1_VOC = "https://gs1.org/voc/"
# The forms of a GS1 link type a request may use (Resolver §2.14): the CURIE and the vocabulary's
# addresses, old and new.
_GS1_PREFIXES = (
    "gs1:",
    "https://gs1.org/voc/",
    "https://ref.gs1.org/voc/",
    "https://www.gs1.org/voc/",
    "http://gs1.org/voc/",
)
LINKSET_TYPE = "application/linkset+json"
LINKSET_VALUES = ("linkset", "all")  # `all` is the name Resolver 1.0 deprecated; both work
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"

DEFAULT_LINK_POLICY = (
    "The default link of every GS1 Digital Link URI is the URI itself: a request without "
    "linkType is answered with the verification page, not redirected, because a redirect would "
    "cost a consumer on a slow mobile network a full round trip. Linksets list the URI as its "
    "own gs1:defaultLink; linkType=gs1:… redirects (307) to the other links."
)


@dataclass(frozen=True)
class Link:
    """One link of a linkset (RFC 9264 §4.2.3); `rel` is a GS1 link type without its prefix."""

    rel: str
    href: str
    title: str
    type: str | None = None
    hreflang: tuple[str, ...] = ()
    # Whether a redirect to it carries the request's query string on (Resolver §2.12). Not for
    # links to other sites: a tag link's query holds its AI 8030 signature. GS1's linkset schema
    # has a boolean `fwqs` for this, but RFC 9264 §4.2.4.3 wants extension attributes as
    # arrays, so the linkset does not say it.
    passes_query: bool = True

    def target(self) -> dict[str, Any]:
        out: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.type:
            out["type"] = self.type
        if self.hreflang:
            out["hreflang"] = list(self.hreflang)  # always an array (RFC 9264 §4.2.4.1)
        return out


@dataclass(frozen=True)
class Level:
    """The links of one registered entity: a product, a lot or a tag. The first is the default."""

    anchor: str
    links: tuple[Link, ...]

    def context_object(self) -> dict[str, Any]:
        # No `description` member: GS1's schema allows one, but RFC 9264 §4.2.2 would read it as
        # a relation type whose value must be an array of targets.
        out: dict[str, Any] = {"anchor": self.anchor}
        for link in self.links:
            out.setdefault(GS1_VOC + link.rel, []).append(link.target())
        default = self.links[0]
        # The default carries a title and nothing else (Resolver §2.5.8).
        out[GS1_VOC + "defaultLink"] = [{"href": default.href, "title": default.title}]
        return out


def requested_link_type(value: str) -> str:
    """A linkType value as the GS1 link type it names, without prefix; "" when not one of GS1's."""
    for prefix in _GS1_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value if value.isalpha() else ""


def linkset_header(path: str) -> str:
    """The Link header pointing to a Digital Link URI's linkset (RFC 9264 §6)."""
    return f'<{path}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"'


def passed_query(query: str, *, drop: str = "linkType") -> str:
    """The request's query string as sent, without `drop` (Resolver §2.12 passes the rest on)."""
    kept = [p for p in query.split("&") if p and unquote(p.split("=", 1)[0]) != drop]
    return "&".join(kept)


def with_query(href: str, query: str) -> str:
    """href with a query string added to its own, before any fragment."""
    if not query:
        return href
    base, hash_mark, fragment = href.partition("#")
    return base + ("&" if "?" in base else "?") + query + hash_mark + fragment


def _media_types(accept: str) -> list[str]:
    return [part.split(";", 1)[0].strip().lower() for part in accept.split(",") if part.strip()]


def choose(links: Sequence[Link], *, accept: str, lang: str) -> Link:
    """The best of several links of one type: by media type, then language (Resolver §2.6.3)."""
    wanted = [t for t in _media_types(accept) if t != "*/*"]
    by_type = [link for link in links if link.type in wanted] or list(links)
    by_lang = [link for link in by_type if lang in link.hreflang]
    return (by_lang or by_type)[0]


def description_file(root: str, name: str) -> bytes:
    """The resolver description file (Resolver §3) of a resolver at `root`, run by `name`."""
    document = {
        "name": f"{name} GS1 Digital Link resolver",
        "resolverRoot": root,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "jsonLdContextLocation": LINKSET_CONTEXT,
        "contact": {"fn": name},
        "defaultLinkPolicy": DEFAULT_LINK_POLICY,
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
