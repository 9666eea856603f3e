"""The witness over HTTP: a WSGI app on the standard library (wsgiref), nothing more.

Two routes (POST /add-checkpoint, GET /<origin hash>/checkpoint) do not need a framework, and
an organization that runs only a witness then installs and audits no web stack; WSGI keeps it
testable in-process (httpx.WSGITransport) and servable by any WSGI server in front of it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tracetag.witness.core import Answer, Witness

log = logging.getLogger("tracetag.witness")

MAX_BODY = 64 * 1024  # a checkpoint, its signatures and 63 proof lines fit many times over
_MONITOR = re.compile(r"/([0-9a-f]{64})/checkpoint")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Entity",
}

StartResponse = Callable[..., Any]


def witness_app(witness: Witness) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application serving one witness."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        answer = _route(witness, environ)
        start_response(
            f"{answer.status} {_REASONS.get(answer.status, 'Error')}",
            [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body)))],
        )
        return [answer.body]

    return app


def _route(witness: Witness, environ: dict[str, Any]) -> Answer:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    if path == "/add-checkpoint":
        if method != "POST":
            return Answer(405, b"POST only\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return Answer(400, b"bad Content-Length\n")
        if length < 0:  # read(-1) would read to the end of the stream, however long
            return Answer(400, b"bad Content-Length\n")
        if length > MAX_BODY:
            return Answer(413, b"request too large\n")
        return witness.add_checkpoint(environ["wsgi.input"].read(length))
    match = _MONITOR.fullmatch(path)
    if match and method == "GET":
        return witness.monitoring_checkpoint(match.group(1))
    return Answer(404, b"not found\n")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def serve(witness: Witness, *, host: str, port: int) -> None:
    """Serve until interrupted, one request at a time (the witness takes turns anyway)."""
    server: WSGIServer = make_server(host, port, witness_app(witness), handler_class=_QuietHandler)
    log.info("witness %s listening on http://%s:%d", witness.cosigner.name, host, port)
    with server:
        server.serve_forever()
