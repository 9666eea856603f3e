"""GS1 Digital Link URIs of a batch or a tag: built, and parsed back from a link or a path.

GS1 Digital Link URI Syntax 1.2 §6 (path, percent-encoding), 1.4 §4.9 (gtin-path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tracetag.gs1.ai import (
    GS1Error,
    check_value,
    normalize_gtin,
    shown_ai,
    validate_lot,
    validate_serial,
)
from tracetag.gs1.serials import canonical_serial


def encode_ai_value(value: str) -> str:
    """Percent-encode an AI value for a Digital Link path: everything but RFC 3986 unreserved."""
    return quote(value, safe="")


def digital_link(base_url: str, gtin14: str, lot: str) -> str:
    """The batch's GS1 Digital Link URI: {base}/01/{gtin14}/10/{lot}."""
    return f"{base_url.rstrip('/')}/01/{gtin14}/10/{encode_ai_value(lot)}"


def tag_digital_link(
    base_url: str, gtin14: str, lot: str, serial: str, digsig: str | None = None
) -> str:
    """A unit tag's URI: {base}/01/{gtin}/10/{lot}/21/{serial}[?8030={digsig}]."""
    uri = f"{digital_link(base_url, gtin14, lot)}/21/{encode_ai_value(serial)}"
    return f"{uri}?8030={digsig}" if digsig else uri


@dataclass(frozen=True)
class DigitalLink:
    gtin: str
    lot: str
    origin: str
    serial: str | None = None
    digsig: str | None = None


_DL_PATH = re.compile(
    r"^(?P<prefix>.*?)/01/(?P<gtin>[0-9]+)/10/(?P<lot>[^/?#]+)(?:/21/(?P<serial>[^/?#]+))?/?$"
)


# A QR code holds at most 2,953 bytes (version 40-L), so no scanned link is longer than this; the
# bound also keeps the path pattern's backtracking cheap on hostile input.
URI_MAX = 4096


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse a batch or unit-tag Digital Link URI to a validated GTIN-14, lot and serial.

    Raises only GS1Error, whatever the text. A typed serial is read as issued (`canonical_serial`,
    FORMATS.md §5). A repeated 8030 is refused, as the page refuses it: two readers could pick
    different values (issue 6). An empty 8030 is kept as "" for the signature check to refuse.
    """
    if not isinstance(uri, str) or len(uri) > URI_MAX:
        raise GS1Error(f"a Digital Link is text of at most {URI_MAX} characters")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:  # "[" without "]", "[x]" (no IP address), "＃" (NFKC-folds to "#")
        raise GS1Error(f"not a URI: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GS1Error("not an http(s) URI")
    match = _DL_PATH.match(parts.path)
    if not match:
        raise GS1Error("the path has no /01/{GTIN}/10/{lot}")
    gtin = normalize_gtin(match["gtin"])
    lot = validate_lot(unquote(match["lot"]))
    serial = None
    if match["serial"]:
        serial = validate_serial(canonical_serial(unquote(match["serial"])))
    query = parse_qsl(parts.query, keep_blank_values=True)
    digsigs = [value for name, value in query if name == "8030"]
    if len(digsigs) > 1:
        raise GS1Error("the link gives AI 8030 more than once")
    return DigitalLink(
        gtin=gtin,
        lot=lot,
        origin=f"{parts.scheme}://{parts.netloc}",
        serial=serial,
        digsig=digsigs[0] if digsigs else None,
    )


# GS1 Digital Link URI Syntax 1.4 §4.9 (gtin-path): after /01/{gtin}, the key qualifiers of a
# GTIN in this order, each at most once and each optional: CPV (22), lot (10), serial (21), and
# TPX (235), with their value lengths (Gen Specs §3.2, all of character set 82).
GTIN_QUALIFIERS = ("22", "10", "21", "235")
_QUALIFIER_MAX = {"22": 20, "10": 20, "21": 20, "235": 28}
_QUALIFIER_NAMES = {"22": "CPV", "10": "lot", "21": "serial", "235": "TPX"}
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class LinkPathError(GS1Error):
    """A request path that is not a GS1 Digital Link path; `part` says which part is wrong.

    part is one of "path" (structure, AI order, an AI that is not a GTIN qualifier), "gtin"
    (not 8, 12, 13 or 14 digits), "check-digit", or a qualifier's name: "lot", "serial",
    "CPV", "TPX".
    """

    def __init__(self, message: str, part: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class LinkPath:
    """A checked /01/{gtin}[/22/…][/10/…][/21/…][/235/…] path, values percent-decoded."""

    gtin: str  # as written: a GTIN-8, -12 or -13 is valid here and redirected to its GTIN-14
    gtin14: str
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None  # as written; canonical_serial() reads a typed one as issued
    tpx: str | None = None

    def path(self, *, gtin: str | None = None, serial: str | None = None) -> str:
        """The path again, percent-encoded as FORMATS.md §4 writes it, with the parts given."""
        parts = [f"/01/{gtin or self.gtin}"]
        serial = serial if serial is not None else self.serial
        for ai, value in (("22", self.cpv), ("10", self.lot), ("21", serial), ("235", self.tpx)):
            if value is not None:
                parts.append(f"/{ai}/{encode_ai_value(value)}")
        return "".join(parts)


def parse_link_path(raw_path: str) -> LinkPath:
    """Check a request path, still percent-encoded, as a GS1 Digital Link path for a GTIN.

    Raises only LinkPathError. One trailing slash or more is tolerated (GS1-Conformant Resolver
    §2.13); anything else that breaks the URI syntax (§4.9 path order, §4.2 percent-encoding,
    the AI's own format) is refused, so that the resolver can answer 400 (Resolver §2.4.1).
    """
    segments = raw_path.rstrip("/").split("/")
    if len(segments) < 3 or segments[0] or segments[1] != "01" or len(segments) % 2 == 0:
        raise LinkPathError("the path is not /01/{GTIN} followed by AI/value pairs", "path")
    gtin = segments[2]
    try:
        if gtin.strip() != gtin:  # normalize_gtin forgives spaces a person typed; a path does not
            raise GS1Error("GTIN must contain digits only")
        gtin14 = normalize_gtin(gtin)
    except GS1Error as exc:
        part = "check-digit" if "check digit" in str(exc) else "gtin"
        raise LinkPathError(str(exc), part) from None
    values: dict[str, str] = {}
    allowed = list(GTIN_QUALIFIERS)
    for ai, raw_value in zip(segments[3::2], segments[4::2], strict=True):
        if ai not in allowed:
            known = ai in GTIN_QUALIFIERS
            where = "a repeated AI or AIs out of order" if known else "not a GTIN qualifier"
            raise LinkPathError(f"AI ({shown_ai(ai)}) in the path: {where}", "path")
        del allowed[: allowed.index(ai) + 1]
        name = _QUALIFIER_NAMES[ai]
        if _BAD_ESCAPE.search(raw_value):
            raise LinkPathError(f"the {name} has a % that starts no percent-encoding", name)
        value = unquote(raw_value)
        try:
            check_value(value, _QUALIFIER_MAX[ai], name)
        except GS1Error as exc:
            raise LinkPathError(str(exc), name) from None
        values[ai] = value
    return LinkPath(
        gtin=gtin,
        gtin14=gtin14,
        cpv=values.get("22"),
        lot=values.get("10"),
        serial=values.get("21"),
        tpx=values.get("235"),
    )
