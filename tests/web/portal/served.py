"""The portal served as a user starts it: migrate, make a key, add an inspector, load the demo,
`tracetag serve`; the logins are read from what the commands print.

SQLite lives in TRACETAG_DATA_DIR, as on a laptop; PostgreSQL is named by TRACETAG_DATABASE_URL,
with the keys in the data directory, as in production.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from tests.databases import fresh_database
from tests.servers import free_port, tracetag_cli, tracetag_serve

LOGIN = re.compile(r"^(producer|admin) login:\s+(\S+)\s+password: (\S+)$", re.MULTILINE)
INSPECTOR = "thanh.tra@sokhcn.soctrang.gov.vn"


@dataclass(frozen=True)
class Login:
    email: str
    password: str


@dataclass(frozen=True)
class Portal:
    backend: str
    base: str
    database_url: str
    producer: Login
    admin: Login
    inspector: Login
    log: Path


@contextmanager
def _database(backend: str, data_dir: Path) -> Iterator[str]:
    """The database's URL: SQLite where the data directory keeps it, or a new PostgreSQL one."""
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'tracetag.db'}"  # where the data directory puts it
        return
    with fresh_database(backend, migrate=False) as url:
        yield url


@contextmanager
def serve_portal(backend: str, data_dir: Path) -> Iterator[Portal]:
    """The server on a free port, ready, with its logins; stopped and its database gone after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Only these settings: a TRACETAG_ variable of the developer's shell must not pick the database.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACETAG_")}
    env |= {"TRACETAG_DATA_DIR": str(data_dir), "TRACETAG_PUBLIC_BASE_URL": base}
    with _database(backend, data_dir) as url:
        if backend != "sqlite":
            env["TRACETAG_DATABASE_URL"] = url
        tracetag_cli(env, "db", "upgrade")
        tracetag_cli(env, "keys", "generate", "--if-missing")
        password = secrets.token_urlsafe(12)
        tracetag_cli(
            env,
            "admin",
            "create-user",
            "--email",
            INSPECTOR,
            "--name",
            "Thanh tra Sở KH&CN Sóc Trăng",
            "--role",
            "inspector",
            "--password-stdin",
            stdin=password + "\n",
        )
        printed = tracetag_cli(env, "demo")
        logins = {role: Login(email, pw) for role, email, pw in LOGIN.findall(printed)}
        assert {"producer", "admin"} <= set(logins), f"`tracetag demo` printed:\n{printed}"
        with tracetag_serve(env, port, data_dir / "server.log", ready="/readyz"):
            yield Portal(
                backend=backend,
                base=base,
                database_url=url,
                producer=logins["producer"],
                admin=logins["admin"],
                inspector=Login(INSPECTOR, password),
                log=data_dir / "server.log",
            )


def photo_jpeg() -> bytes:
    """A product photo as a phone takes it: a jar of honey on a table, in JPEG."""
    img = Image.new("RGB", (900, 1200), (236, 226, 204))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 860, 900, 1200), fill=(140, 98, 60))
    draw.rounded_rectangle((260, 330, 640, 940), radius=40, fill=(214, 150, 30))
    draw.rectangle((290, 250, 610, 340), fill=(60, 60, 60))
    draw.rectangle((320, 520, 580, 700), fill=(250, 246, 230))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()
