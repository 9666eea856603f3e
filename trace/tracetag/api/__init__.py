"""The JSON API (v1), thin over the services: one router module per domain.

Every route needs an API key, checked by the request guard (guard.py) before any body is read.
"""

from __future__ import annotations

from tracetag.api import batches, producers, products, retailers, scans, tag_jobs, tags

# In the order the OpenAPI document lists them.
routers = (
    producers.router,
    products.router,
    retailers.router,
    batches.router,
    scans.router,
    tags.router,
    tag_jobs.router,
)
