"""The transparency log, served as C2SP tlog-tiles, with proofs for clients that want them.

/checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>] are what tile clients read
(C2SP tlog-tiles); a tile never changes once served, so they go out as immutable and a CDN or
object storage can hold them. The proofs under /log/ are conveniences computed from the same
tiles (docs/FORMATS.md §8).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tracetag.errors import Invalid, MalformedInput, NotFound
from tracetag.formats.tiles import EntriesId, TileId, parse_tile_path
from tracetag.translog import checkpoints, service
from tracetag.web.deps import SessionDep

# Not in the OpenAPI document: tiles are the C2SP tlog-tiles protocol, specified there and in
# docs/FORMATS.md, and the proofs are for log clients rather than the JSON API's callers.
router = APIRouter(tags=["log"], include_in_schema=False)

IMMUTABLE = "public, max-age=31536000, immutable"
FRESH = "no-cache"  # a checkpoint changes as the log grows: revalidate every time
TEXT = "text/plain; charset=utf-8"


def _published_size(session: SessionDep) -> int:
    latest = checkpoints.latest(session)
    if latest is None:
        raise NotFound("the log has no checkpoint yet")
    return latest.size


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(session: SessionDep) -> Response:
    """The latest checkpoint: a signed note by the log's key, with the witnesses' cosignatures."""
    latest = checkpoints.latest(session)
    if latest is None:
        raise NotFound("the log has no checkpoint yet")
    note = checkpoints.with_cosignatures(session, latest)
    return Response(note, media_type=TEXT, headers={"Cache-Control": FRESH})


@router.get("/tile/{path:path}", response_class=Response)
def tile(path: str, session: SessionDep) -> Response:
    """A tile of hashes, or a bundle of entries (C2SP tlog-tiles)."""
    try:
        wanted = parse_tile_path("tile/" + path)
    except MalformedInput as exc:
        raise NotFound(f"no such tile: {exc}") from exc
    size = _published_size(session)
    if isinstance(wanted, EntriesId):
        data = service.read_entries(session, wanted.index, wanted.width, tree_size=size)
    else:
        assert isinstance(wanted, TileId)
        data = service.read_tile(session, wanted, tree_size=size)
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )


def _hash_param(value: str) -> bytes:
    """A leaf hash as 64 hex digits or standard base64."""
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise Invalid("leaf_hash", "a leaf hash is 32 bytes, as 64 hex digits or base64")
    return raw


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


@router.get("/log/proof/inclusion")
def inclusion(
    session: SessionDep,
    leaf_hash: Annotated[str, Query(max_length=100, description="hex or base64")],
    tree_size: Annotated[int | None, Query(ge=1, description="default: latest checkpoint")] = None,
) -> JSONResponse:
    """Where a leaf is, and its RFC 9162 inclusion proof in a published tree."""
    # Few queries: each is a round trip, and at 10 million leaves they cost more than the proof.
    published = _published_size(session)
    size = tree_size or published
    if size > published:
        raise NotFound(f"no checkpoint covers size {size} yet")
    row = service.find_leaf(session, _hash_param(leaf_hash))
    if row is None or row.position is None or row.position >= size:
        raise NotFound(f"no leaf with this hash in the tree of size {size}")
    proof = service.inclusion_proof(
        session, index=row.position, tree_size=size, integrated=published
    )
    body: dict[str, Any] = {"leaf_index": row.position, "tree_size": size, "hashes": _b64(proof)}
    return JSONResponse(body, headers={"Cache-Control": IMMUTABLE})


@router.get("/log/proof/consistency")
def consistency(
    session: SessionDep,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int | None, Query(ge=1, description="default: latest checkpoint")] = None,
) -> JSONResponse:
    """The RFC 9162 consistency proof between two published tree sizes."""
    published = _published_size(session)
    size = second or published
    if size > published:
        raise NotFound(f"no checkpoint covers size {size} yet")
    if first > size:
        raise Invalid("first", f"the first size must not exceed the second ({size})")
    proof = service.consistency_proof(session, first=first, second=size, integrated=published)
    body = {"first": first, "second": size, "hashes": _b64(proof)}
    return JSONResponse(body, headers={"Cache-Control": IMMUTABLE})


@router.get("/log/key", response_class=PlainTextResponse)
def log_key(request: Request) -> Response:
    """The log's verifier key (C2SP signed-note), to check its checkpoints."""
    return Response(
        request.app.state.log_signer.vkey + "\n",
        media_type=TEXT,
        headers={"Cache-Control": "public, max-age=300"},
    )
