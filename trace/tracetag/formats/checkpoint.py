"""Transparency log checkpoints: c2sp.org/tlog-checkpoint@v1.0.0, the note text a log signs.

Lines: origin, tree size, root hash, then optional extension lines, each ending in a newline.
Parsing is as strict as the spec (a decimal size without leading zeros, a 32-byte root in
canonical base64, no empty line), and so stricter than transparency-dev/formats' log.Checkpoint,
which takes a root of any length and empty trailing lines: format_checkpoint(parse_checkpoint(t))
is t for every text accepted, so a checkpoint has one spelling to sign and to cosign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracetag.errors import MalformedInput
from tracetag.formats.note import std_b64, std_b64_decode

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1  # tree sizes are uint64, as in Go's log.Checkpoint and tlog-tiles
_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")  # a note's text holds none but newline, which ends a line


def _check_line(line: object, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise MalformedInput(f"{what} is empty")
    if _CONTROL.search(line):
        raise MalformedInput(f"{what} holds a newline or another control character")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedInput(f"{what} is not UTF-8") from exc


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size), which tree (root_hash)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "the origin")
        if not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedInput("the tree size is not a number from 0 to 2^64 - 1")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedInput(f"the root hash is not {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise MalformedInput("the extension lines are a tuple")
        for line in self.extensions:
            _check_line(line, "an extension line")


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The checkpoint's note text, ending in a newline."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        std_b64(checkpoint.root_hash),
        *checkpoint.extensions,
    ]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint's note text; raises MalformedInput."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedInput("a checkpoint ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedInput("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size):
        raise MalformedInput("the tree size is not a decimal number without leading zeros")
    if len(size) > len(str(MAX_TREE_SIZE)):
        raise MalformedInput("the tree size is larger than 2^64 - 1")
    try:
        root_hash = std_b64_decode(root)
    except MalformedInput as exc:
        raise MalformedInput("the root hash is not canonical base64") from exc
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))
