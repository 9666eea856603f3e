"""The real thing: migrate, make a key, load the demo, serve, and verify from outside."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import backends, fresh_database
from tests.servers import free_port, tracetag_serve

pytestmark = pytest.mark.slow


def _tracetag(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracetag.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module", params=backends())
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str], str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    keys = tmp_path_factory.mktemp("e2e-keys")
    with fresh_database(request.param, migrate=False) as url:
        env = {
            **os.environ,
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(keys),
            "TRACETAG_PUBLIC_BASE_URL": base,
            "TRACETAG_KEY_PASSPHRASE": "e2e passphrase",
        }
        for args in (("db", "upgrade"), ("keys", "generate", "--if-missing")):
            step = _tracetag(env, *args)
            assert step.returncode == 0, step.stderr
        demo = _tracetag(env, "demo")
        assert demo.returncode == 0, demo.stderr
        page_url = next(
            line.split()[-1] for line in demo.stdout.splitlines() if "demo batch page" in line
        )
        log_path = tmp_path_factory.mktemp("e2e-log") / "server.log"
        with tracetag_serve(env, port, log_path, ready="/healthz"):
            yield page_url, env, demo.stdout


def test_demo_page_is_served_with_a_valid_signature(
    served: tuple[str, dict[str, str], str],
) -> None:
    page_url, _env, stdout = served
    assert "admin API key:    tt_" in stdout
    html = httpx.get(page_url, headers={"Accept-Language": "vi"}).text
    assert "Gạo ST25 Thạnh Phú" in html
    assert "Hồ sơ đã được xác minh" in html
    assert "185.000\xa0₫" in html


def test_verify_url_online_exit_0(served: tuple[str, dict[str, str], str], tmp_path: Path) -> None:
    page_url, env, _ = served
    result = _tracetag(env, "verify", page_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID" in result.stdout
    # and with a JWKS file kept by the inspector
    jwks = tmp_path / "jwks.json"
    jwks.write_text(httpx.get(page_url.split("/01/")[0] + "/.well-known/jwks.json").text)
    result = _tracetag(env, "verify", page_url, "--jwks", str(jwks))
    assert result.returncode == 0, result.stdout + result.stderr


def test_verify_unknown_code_exit_1(served: tuple[str, dict[str, str], str]) -> None:
    page_url, env, _ = served
    unknown = page_url.rsplit("/", 1)[0] + "/NO-SUCH-LOT"
    result = _tracetag(env, "verify", unknown)
    assert result.returncode == 1
    assert "not registered" in result.stdout


def test_demo_is_loaded_once_and_prints_a_new_key(served: tuple[str, dict[str, str], str]) -> None:
    page_url, env, first = served
    again = _tracetag(env, "demo")
    assert again.returncode == 0
    assert "demo data loaded" not in again.stdout
    assert page_url in again.stdout
    old_key = next(line.split()[-1] for line in first.splitlines() if "admin API key" in line)
    new_key = next(
        line.split()[-1] for line in again.stdout.splitlines() if "admin API key" in line
    )
    assert old_key != new_key
    base = page_url.split("/01/")[0]
    assert (
        httpx.get(
            base + "/api/v1/admin/producers", headers={"Authorization": f"Bearer {old_key}"}
        ).status_code
        == 401
    )
    assert (
        httpx.get(
            base + "/api/v1/admin/producers", headers={"Authorization": f"Bearer {new_key}"}
        ).status_code
        == 200
    )


def _sign_in(base: str, email: str, password: str) -> int:
    """Sign in to the portal as a browser does; the answer's status (303: signed in)."""
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/portal/login").text
        token = form.split('name="csrftoken" value="', 1)[1].split('"', 1)[0]
        answer = browser.post(
            "/portal/login", data={"email": email, "password": password, "csrftoken": token}
        )
        return answer.status_code


def test_the_printed_demo_logins_open_the_portal_until_the_next_run(
    served: tuple[str, dict[str, str], str],
) -> None:
    page_url, env, _ = served
    base = page_url.split("/01/")[0]
    first = _tracetag(env, "demo").stdout
    logins = re.findall(r"(producer|admin) login:\s+(\S+)\s+password: (\S+)", first)
    assert [role for role, _e, _p in logins] == ["producer", "admin"]
    assert f"producer portal:  {base}/portal" in first
    for _role, email, password in logins:
        assert _sign_in(base, email, password) == 303
    again = _tracetag(env, "demo").stdout
    _role, email, old = logins[0]
    assert f"{email}  password: {old}" not in again  # a new password each run
    assert _sign_in(base, email, old) == 400
