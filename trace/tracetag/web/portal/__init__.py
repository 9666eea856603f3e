"""The portal: server-rendered pages where producers register products and batches and print
labels, admins manage producers and accounts, and inspectors look records up.

It stands beside web/public/ and over the same services as the JSON API (api/), importing
neither; its shared needs (sessions, settings, error answers) come from the web layer (web/).
Pages work without JavaScript; every state-changing form carries a CSRF token (csrf.py).
"""

from __future__ import annotations

from tracetag.web.portal import (
    account,
    admin,
    batches,
    dashboard,
    inspect,
    products,
    profile,
    signup,
    tags,
)

routers = [
    account.router,
    signup.router,
    dashboard.router,
    products.router,
    batches.router,
    tags.router,
    inspect.router,
    profile.router,
    admin.router,
]
