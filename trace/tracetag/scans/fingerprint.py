"""Salted client fingerprints for copy detection: never the raw IP, never the User-Agent alone.

Two hashes per scan. The *network* is the address's /24 (IPv4) or /48 (IPv6): one machine cannot
cheaply scan from many networks. The *client* adds the User-Agent and language to the network:
phones behind one carrier-grade NAT share a network but differ in browser. The client part is
cheap to fake, so copy detection counts at most `copy_clients_per_network` clients for any one
network (README, "Copy detection").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

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


def _hmac(salt: bytes, material: str) -> str:
    return hmac.new(salt, material.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def network_hash(salt: bytes, *, ip: str | None) -> str:
    """HMAC-SHA-256 of the client's network, 128 bits in hex."""
    return _hmac(salt, "net|" + network_prefix(ip))


def client_hash(
    salt: bytes, *, ip: str | None, user_agent: str | None, language: str | None
) -> str:
    """HMAC-SHA-256 of network, User-Agent and language, 128 bits in hex."""
    material = "|".join((network_prefix(ip), user_agent or "", (language or "")[:40]))
    return _hmac(salt, material)


def derived_salt(signing_key: Ed25519PrivateKey) -> bytes:
    """The salt as it was derived from the signing key before it had a file of its own."""
    raw = signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return hashlib.sha256(b"tracetag scan fingerprint salt\0" + raw).digest()
