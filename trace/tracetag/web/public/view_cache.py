"""Record views cached for a few seconds per code, so scan pages need no page-data queries.

A signed version never changes; what can change behind the service's back is the database rows,
and a cached view is re-checked against them once its time is up (`record_view_ttl`). What is
not signed and can change at any time, the places to buy, is reloaded with it: a tag page shows
a new list within `record_view_ttl` seconds (10 by default).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool

from tracetag.web.public.record_view import RecordView

Loader = Callable[[str, str], RecordView | None]


class RecordViewCache:
    def __init__(
        self,
        loader: Loader,
        *,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, RecordView | None]] = OrderedDict()

    async def get(self, gtin: str, lot: str) -> RecordView | None:
        key = (gtin, lot)
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        view = await run_in_threadpool(self._loader, gtin, lot)
        self._entries[key] = (now + self._ttl, view)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return view
