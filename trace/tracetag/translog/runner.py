"""The integrator inside the service process: logs waiting entries and signs checkpoints.

Every process of the service runs one; the lock on log_state makes them take turns, so a
single process needs nothing more. It looks for waiting entries every `interval` seconds (one
indexed query when there are none), so a new record is in a signed checkpoint within about
that time.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from tracetag.translog.checkpoints import LogSigner, integrate_and_publish
from tracetag.translog.witnesses import WitnessPusher

log = logging.getLogger("tracetag.translog")

MAX_BACKOFF = 60.0  # seconds between tries while the database cannot be reached


class LogIntegrator:
    def __init__(
        self,
        factory: sessionmaker[Session],
        signer: LogSigner,
        *,
        interval: float,
        witnesses: WitnessPusher | None = None,
    ) -> None:
        self._factory = factory
        self._signer = signer
        self._witnesses = witnesses
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="log-integrator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._witnesses is not None:
            self._witnesses.close()

    def _run(self) -> None:
        wait = self._interval
        while not self._stop.is_set():
            try:
                integrate_and_publish(self._factory, self._signer)
                if self._witnesses is not None:  # pauses a failing witness; never raises
                    self._witnesses.push(self._factory)
                wait = self._interval
            except Exception:  # logged, then tried again: the log must not stop the service
                log.exception("could not integrate the log's waiting entries; trying again")
                wait = min(max(wait * 2, 1.0), MAX_BACKOFF)
            self._stop.wait(wait)
