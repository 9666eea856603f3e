"""`tracetag keys`: the lifecycle from the command line, exit 0 done, 1 refused, 2 errors."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from tests.databases import backends, fresh_database
from tracetag.cli import app
from tracetag.core.database import make_engine, make_session_factory, utcnow
from tracetag.signing import registry
from tracetag.signing.keys import generate_key
from tracetag.signing.models import SigningKey


@pytest.fixture(params=backends())
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh database and keys directory, in the environment the command reads."""
    with fresh_database(request.param) as url:
        monkeypatch.setenv("TRACETAG_DATABASE_URL", url)
        monkeypatch.setenv("TRACETAG_KEYS_DIR", str(tmp_path / "keys"))
        monkeypatch.delenv("TRACETAG_SIGNING_KID", raising=False)
        monkeypatch.delenv("TRACETAG_KEY_PASSPHRASE", raising=False)
        yield url


def keys(*args: str) -> Result:
    result = CliRunner().invoke(app, ["keys", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _states(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return {key.kid: key.state for key in registry.list_keys(session)}
    finally:
        engine.dispose()


def _kid(result: Result) -> str:
    found = re.search(r"key (\S+) ", result.stdout)
    assert found, result.stdout
    return found.group(1)


def test_the_lifecycle_round_trip(env: str, tmp_path: Path) -> None:
    # A kid is base64url and may begin with "-": "--" ends the options before it.
    empty = keys("list")
    assert empty.exit_code == 0 and "tracetag keys generate" in empty.stdout
    first = keys("generate")
    assert first.exit_code == 0, first.output
    one = _kid(first)
    assert "active" in first.stdout  # a new service's first key signs at once
    assert keys("generate", "--if-missing").stdout.strip() == "a signing key exists; nothing to do"
    second = keys("generate", "--label", "Khóa năm 2027")
    two = _kid(second)
    assert second.stdout.rstrip().endswith("pending")
    listed = keys("list").stdout
    assert re.search(rf"{two}  pending, NOT encrypted  made .*Khóa năm 2027", listed)
    assert re.search(rf"{one}  ACTIVE", listed)

    assert keys("activate", "--", two).exit_code == 0
    assert _states(env) == {one: "retired", two: "active"}
    refused = keys("retire", "--", two)
    assert refused.exit_code == 1 and "activate or rotate" in refused.stderr
    assert keys("activate", "--", "no-such-kid").exit_code == 2

    rotated = keys("rotate")
    assert rotated.exit_code == 0
    three = _kid(rotated)
    assert _states(env) == {one: "retired", two: "retired", three: "active"}

    no_successor = keys("revoke", "--", three)
    assert no_successor.exit_code == 1 and "--new-key" in no_successor.stderr
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert keys("revoke", "--new-key", "--compromised-at", future, "--", three).exit_code == 1
    assert keys("revoke", "--new-key", "--compromised-at", "hôm qua", "--", three).exit_code == 2
    assert (
        keys("revoke", "--new-key", "--compromised-at", "2026-11-20T08:00", "--", three).exit_code
        == 2
    )
    revoked = keys("revoke", three, "--new-key", "--compromised-at", "2026-11-20T08:00:00+07:00")
    assert revoked.exit_code == 0, revoked.output
    assert "2026-11-20 01:00 UTC" in revoked.stdout
    states = _states(env)
    (four,) = set(states) - {one, two, three}
    assert (states[three], states[four]) == ("revoked", "active")
    for kid in (one, two, three, four):  # every private file stays 0600
        path = tmp_path / "keys" / f"{kid}.key.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_list_warns_when_the_active_key_is_over_a_year_old(env: str) -> None:
    kid = _kid(keys("generate"))
    assert "warning" not in keys("list").stderr
    engine = make_engine(env)
    with engine.begin() as conn:
        conn.execute(
            update(SigningKey)
            .where(SigningKey.kid == kid)
            .values(activated_at=utcnow() - timedelta(days=400))
        )
    engine.dispose()
    listed = keys("list")
    assert listed.exit_code == 0
    assert f"warning: the active key {kid} has signed for more than a year" in listed.stderr


def test_db_upgrade_registers_the_key_files_of_an_older_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_dir = tmp_path / "keys"
    old, newest = generate_key(keys_dir, None), generate_key(keys_dir, None)
    os.utime(keys_dir / f"{old}.key.pem", (1_700_000_000, 1_700_000_000))
    for backend in backends():
        with fresh_database(backend, migrate=False) as url:
            monkeypatch.setenv("TRACETAG_DATABASE_URL", url)
            monkeypatch.setenv("TRACETAG_KEYS_DIR", str(keys_dir))
            done = CliRunner().invoke(app, ["db", "upgrade"])
            assert done.exit_code == 0, done.output
            assert "registered 2 key file(s)" in done.stdout
            assert _states(url) == {old: "retired", newest: "active"}  # the newest signed
            again = CliRunner().invoke(app, ["db", "upgrade"])
            assert "registered" not in again.stdout
