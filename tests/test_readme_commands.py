"""Every `tracetag` command the README shows, run for real against a fresh database (issue 6).

`admin create-key`, documented in the README, once always failed: the README is tested by running
it. A command added to the README fails here until this file runs it too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.main import get_command

from tests import REPO_ROOT
from tests.databases import backends, fresh_database
from tests.servers import free_port
from tracetag.audit.models import AuditEvent
from tracetag.cli import app
from tracetag.core.database import make_engine

README = REPO_ROOT / "README.md"

# What the end-to-end test below runs; the README may mention nothing else.
COVERED = frozenset(
    {
        "--help",
        "db upgrade",
        "keys generate",
        "keys list",
        "keys activate",
        "keys rotate",
        "keys retire",
        "keys revoke",
        "demo",
        "admin create-key",
        "admin create-user",
        "admin list-keys",
        "admin revoke-key",
        "admin approve-producer",
        "admin suspend-producer",
        "admin reinstate-producer",
        "tags issue",
        "tags export",
        "serve",
        "verify",
        "log monitor",
        "bundle export",
    }
)


def cli_commands() -> set[str]:
    """Every command path of the CLI: 'serve', 'db upgrade', …"""
    root = get_command(app)
    paths = {"--help"}
    for name, command in getattr(root, "commands", {}).items():
        subcommands = getattr(command, "commands", None)
        paths |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    return paths


def readme_mentions() -> tuple[set[str], set[str]]:
    """(command paths the README shows in code, `tracetag …` texts naming no command)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    known = cli_commands()
    mentioned: set[str] = set()
    unknown: set[str] = set()
    for snippet in blocks + spans:
        if snippet in known:  # a bare name, as in "`tracetag --help` lists `serve`, `db upgrade`"
            mentioned.add(snippet)
        for words in re.findall(r"(?<![\w/.-])tracetag((?: +[-\w]+){1,2})", snippet):
            first, *rest = words.split()
            pair = f"{first} {rest[0]}" if rest else first
            found = next((p for p in (pair, first) if p in known), None)
            if found is None:
                unknown.add(f"tracetag {pair}")
            else:
                mentioned.add(found)
    return mentioned, unknown


def test_every_readme_command_exists_and_is_run_below() -> None:
    mentioned, unknown = readme_mentions()
    assert not unknown, f"the README shows commands the CLI does not have: {unknown}"
    assert {"serve", "db upgrade", "admin create-key", "verify"} <= mentioned  # the scan works
    assert mentioned <= COVERED, f"README commands this file does not run: {mentioned - COVERED}"


class Cli:
    """Runs `python -m tracetag.cli …` in a clean environment and notes which commands ran."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.ran: set[str] = set()

    def _note(self, args: tuple[str, ...]) -> None:
        words = [a for a in args if not a.startswith("-")][:2]
        known = cli_commands()
        pair = " ".join(words)
        self.ran.add(pair if pair in known else words[0] if words else args[0])

    def __call__(
        self, *args: str, code: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        self._note(args)
        result = subprocess.run(
            [sys.executable, "-m", "tracetag.cli", *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == code, f"tracetag {' '.join(args)}:\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr
        return result

    @contextmanager
    def serve(self, *args: str, log: Path) -> Iterator[str]:
        """`tracetag serve …` until the block ends, then SIGTERM; yields the base URL."""
        self._note(("serve", *args))
        port = args[args.index("--port") + 1]
        base = f"http://127.0.0.1:{port}"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tracetag.cli", "serve", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"serve exited:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"no /healthz in 60 s:\n{log.read_text()}"
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        # uvicorn shuts down cleanly, then re-raises the signal it caught: -15, not 0.
        assert code in (0, -signal.SIGTERM), f"serve ended with {code}:\n{log.read_text()}"
        assert "Application shutdown complete" in log.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("backend", backends())
def test_readme_commands_work(backend: str, tmp_path: Path) -> None:
    port = free_port()
    with fresh_database(backend, migrate=False) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACETAG_")}
        env |= {
            "TRACETAG_DATABASE_URL": url,
            "TRACETAG_KEYS_DIR": str(tmp_path / "keys"),
            "TRACETAG_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TRACETAG_LABEL_WORKERS": "1",
        }
        cli = Cli(env)
        run_readme(cli, tmp_path, port)
    assert cli.ran == COVERED


def run_readme(cli: Cli, tmp: Path, port: int) -> None:
    """The README's commands in the order a new deployment runs them."""
    listed = cli("--help").stdout
    for name in ("serve", "db", "keys", "admin", "demo", "verify"):  # "`tracetag --help` lists"
        assert re.search(rf"\b{name}\b", listed), name

    assert "database at head" in cli("db", "upgrade").stdout
    created = cli("keys", "generate").stdout
    kid = re.search(r"created key (\S+) in", created)
    assert kid is not None, created
    assert re.search(
        rf"^{re.escape(kid[1])}  ACTIVE, NOT encrypted  made ", cli("keys", "list").stdout, re.M
    )
    # README, "Signing keys": generate, activate, rotate, retire, revoke
    made_key = re.search(r"created key (\S+) ", cli("keys", "generate", "--label", "2027").stdout)
    assert made_key is not None
    assert "signs now" in cli("keys", "activate", "--", made_key[1]).stdout
    assert "signs now" in cli("keys", "rotate").stdout
    spare_key = re.search(r"created key (\S+) ", cli("keys", "generate").stdout)
    assert spare_key is not None
    assert "is retired" in cli("keys", "retire", "--", spare_key[1]).stdout
    active = re.search(r"^(\S+)  ACTIVE", cli("keys", "list").stdout, re.M)
    assert active is not None
    revoked = cli(
        "keys", "revoke", "--new-key", "--compromised-at", "2026-11-20T08:00+07:00", "--", active[1]
    ).stdout
    assert "2026-11-20 01:00 UTC" in revoked and "signs now" in revoked

    demo = cli("demo").stdout
    page = re.search(r"demo batch page:\s+(\S+)", demo)
    assert "demo data loaded" in demo and page is not None, demo
    assert page[1] == f"http://127.0.0.1:{port}/01/08938535000252/10/ST25-2611-01"
    admin_key = cli("admin", "create-key").stdout.strip()
    assert re.fullmatch(r"\S{20,}", admin_key), admin_key
    # README: tracetag admin create-user --email … --name … (the password from a pipe here)
    made = cli(
        "admin",
        "create-user",
        "--email",
        "An@Example.vn",
        "--name",
        "Nguyễn Văn An",
        "--password-stdin",
        stdin="mật khẩu thử nghiệm\n",
    ).stdout
    assert re.fullmatch(r"created admin an@example\.vn \(user \d+\)\n", made), made
    taken = cli(
        "admin",
        "create-user",
        "--email",
        "an@example.vn",
        "--name",
        "An",
        "--password-stdin",
        stdin="mật khẩu thử nghiệm\n",
        code=2,
    )
    assert "exists" in taken.stderr
    short = cli(
        "admin",
        "create-user",
        "--email",
        "b@example.vn",
        "--name",
        "B",
        "--password-stdin",
        stdin="ngắn\n",
        code=2,
    )
    assert "password: at least 10 characters" in short.stderr

    # README: `tracetag tags issue 1 --count 100000` and `tracetag tags export 1 -o labels.pdf`;
    # 21 tags (one A4 sheet of 3 × 7) keep the test fast, the command is the same.
    assert "issuance 1: 21 tags issued" in cli("tags", "issue", "1", "--count", "21").stdout
    labels = tmp / "labels.pdf"
    assert "21 labels" in cli("tags", "export", "1", "-o", str(labels)).stdout
    assert labels.read_bytes().startswith(b"%PDF-")
    # README: tracetag admin suspend-producer 1 --reason "…", reinstate-producer, approve-producer
    reason = "Giấy chứng nhận OCOP hết hạn"
    suspended = cli("admin", "suspend-producer", "1", "--reason", reason).stdout
    assert suspended.endswith(" is suspended\n"), suspended
    assert reason in cli("tags", "issue", "1", "--count", "1", code=2).stderr
    assert cli("admin", "reinstate-producer", "1").stdout.endswith(" is approved\n")
    assert "approved already" in cli("admin", "approve-producer", "1", code=2).stderr

    with cli.serve("--host", "127.0.0.1", "--port", str(port), log=tmp / "serve.log") as base:
        with httpx.Client(base_url=base, timeout=10) as http:
            shown = http.get(page[1])
            assert shown.status_code == 200 and "ST25-2611-01" in shown.text
            producers = "/api/v1/admin/producers"
            bearer = {"Authorization": f"Bearer {admin_key}"}
            assert http.get(producers, headers=bearer).status_code == 200
            assert http.get(producers, headers={"Authorization": "Bearer x"}).status_code == 401
            # README: tracetag admin list-keys, tracetag admin revoke-key 7
            spare = cli("admin", "create-key", "--label", "spare").stdout.strip()
            listed = cli("admin", "list-keys").stdout
            row = re.search(rf"^\s*(\d+)  {re.escape(spare[:10])}…  spare\s+live$", listed, re.M)
            assert row is not None, listed
            assert cli("admin", "revoke-key", row[1]).stdout == f"revoked API key {row[1]}\n"
            spare_auth = {"Authorization": f"Bearer {spare}"}
            assert http.get(producers, headers=spare_auth).status_code == 401
            assert "revoked" in cli("admin", "list-keys").stdout
            assert "no API key has id 999999" in cli("admin", "revoke-key", "999999", code=2).stderr
            # README: tracetag admin create-key --producer-id 1 --label "phần mềm bán hàng"
            label = "phần mềm bán hàng"
            own = cli("admin", "create-key", "--producer-id", "1", "--label", label).stdout.strip()
            mine = http.get("/api/v1/me", headers={"Authorization": f"Bearer {own}"})
            assert mine.status_code == 200 and mine.json()["id"] == 1
            assert label in cli("admin", "list-keys", "--producer-id", "1").stdout
            missing = cli("admin", "create-key", "--producer-id", "999999", code=2).stderr
            assert "no producer has id 999999" in missing
            # README: curl -o jwks.json …/.well-known/jwks.json; save the record's JWS
            (tmp / "jwks.json").write_bytes(http.get("/.well-known/jwks.json").content)
            record = http.get(page[1], headers={"Accept": "application/json"}).json()
            (tmp / "record.jws").write_bytes(http.get(record["jws_url"]).content)

        jwks = str(tmp / "jwks.json")
        offline = cli("verify", str(tmp / "record.jws"), "--jwks", jwks).stdout
        assert offline.startswith("VALID: signature verified") and "ST25-2611-01" in offline
        assert cli("verify", page[1], "--jwks", jwks).stdout.startswith("VALID")
        # README: the log's key, a record's place in the log, the monitor, a field bundle
        with httpx.Client(base_url=base, timeout=10) as http:
            vkey = http.get("/log/key").text.strip()
            deadline = time.monotonic() + 30  # the integrator logs the demo within a second
            while http.get(page[1] + "?format=json").json()["log"]["status"] != "included":
                assert time.monotonic() < deadline, "the demo record never reached a checkpoint"
                time.sleep(0.2)
        (tmp / "log.vkey").write_text(vkey + "\n")
        logged = cli("verify", page[1], "--jwks", jwks, "--log-key", str(tmp / "log.vkey")).stdout
        assert logged.startswith("VALID"), logged
        state = str(tmp / "monitor.checkpoint")
        assert cli("log", "monitor", "--url", base, "--log-key", vkey, "--state", state).stdout
        assert cli("log", "monitor", "--url", base, "--log-key", vkey, "--state", state).stdout
        bundle = tmp / "field.bundle.jws"
        cli("bundle", "export", "-o", str(bundle), "--producer", "1")
        checked = cli(
            "verify", "--bundle", str(bundle), "--jwks", jwks, "--log-key", str(tmp / "log.vkey"),
            "--max-age", "7d",
        ).stdout  # fmt: skip
        assert checked.startswith("VALID"), checked
        assert cli("verify", page[1]).stdout.startswith("VALID")  # the JWKS fetched online

    # Every change the commands made is in the audit log, once, as the operator's.
    engine = make_engine(cli.env["TRACETAG_DATABASE_URL"])
    with engine.connect() as conn:
        logged = conn.execute(
            select(AuditEvent.action, AuditEvent.channel, AuditEvent.actor).order_by(AuditEvent.id)
        ).all()
    engine.dispose()
    assert {(channel, actor.split(" ")[0]) for _, channel, actor in logged} == {("cli", "cli")}
    assert [action for action, _, _ in logged] == [
        "signing_key.generate",  # keys generate: a new service's first key …
        "signing_key.activate",  # … signs at once
        "signing_key.generate",  # keys generate --label 2027
        "signing_key.retire",  # keys activate
        "signing_key.activate",
        "signing_key.generate",  # keys rotate
        "signing_key.retire",
        "signing_key.activate",
        "signing_key.generate",  # keys generate, then keys retire
        "signing_key.retire",
        "signing_key.generate",  # keys revoke --new-key: the successor, then the revocation
        "signing_key.activate",
        "signing_key.revoke",
        "producer.create",  # demo
        "product.create",
        "product.image_set",
        "product.retailers_set",
        "batch.create",
        "api_key.create",
        "user.create",  # the demo producer's login
        "user.create",  # the demo admin's login
        "api_key.create",  # admin create-key
        "user.create",
        "tag_issuance.create",
        "producer.suspend",
        "producer.reinstate",
        "api_key.create",
        "api_key.revoke",
        "api_key.create",  # the producer's key, named
    ]
