"""A coarse, salted client fingerprint: enough to tell many phones from one, never the raw IP."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from functools import lru_cache

_FAMILIES = [
    ("bot", re.compile(r"bot|crawl|spider|slurp|preview", re.I)),
    ("zalo", re.compile(r"Zalo", re.I)),
    ("facebook", re.compile(r"FBAN|FBAV|FB_IAB", re.I)),
    ("coccoc", re.compile(r"coc_coc|CocCoc", re.I)),
    ("samsung", re.compile(r"SamsungBrowser", re.I)),
    ("edge", re.compile(r"Edg/|EdgA/|EdgiOS/", re.I)),
    ("opera", re.compile(r"OPR/|Opera", re.I)),
    ("firefox", re.compile(r"Firefox/|FxiOS/", re.I)),
    ("chrome", re.compile(r"Chrome/|CriOS/", re.I)),
    ("safari", re.compile(r"Safari/", re.I)),
    ("cli", re.compile(r"curl|wget|python|httpx|okhttp|wrk", re.I)),
]


def ua_family(user_agent: str | None) -> str:
    """Browser family of a User-Agent (the in-app browsers of Zalo and Facebook count apart)."""
    if not user_agent:
        return "unknown"
    for name, pattern in _FAMILIES:
        if pattern.search(user_agent):
            return name
    return "other"


@lru_cache(maxsize=8192)  # parsing an address costs more than the rest of a scan's checks
def network_prefix(ip: str | None, *, v4: int = 24, v6: int = 48) -> str:
    """The network of an address: by default the /24 of IPv4 or /48 of IPv6, coarse on purpose."""
    if not ip:
        return "-"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "-"
    prefix = v4 if address.version == 4 else v6
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def client_hash(
    salt: bytes, *, ip: str | None, user_agent: str | None, language: str | None
) -> str:
    """HMAC-SHA-256 of the coarse fingerprint, 128 bits in hex."""
    material = "|".join((network_prefix(ip), user_agent or "", (language or "")[:40]))
    return hmac.new(salt, material.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
