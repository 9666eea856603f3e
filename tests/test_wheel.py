"""The wheel as a new operator gets it (issue 8): built, installed outside the repo, and run.

tracetag comes only from the wheel, installed into a fresh virtualenv. Its dependencies are
this test run's own, reached through a .pth file, so the test needs nothing from PyPI but
the build backend.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import REPO_ROOT
from tests.servers import free_port, tracetag_serve
from tracetag.core.i18n import translations

pytestmark = pytest.mark.slow

# Where each folder of the repo lands in the wheel (setup.py maps them).
SHIPPED = {
    "trace/tracetag/": "tracetag/",
    "public_pages/": "tracetag/public_pages/",
    "migrations/": "tracetag/migrations/",
}


def _run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A copy of the files git knows (a clean clone's, plus new ones): the build writes there."""
    listed = _run(
        "git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO_ROOT
    ).stdout
    files = sorted(f for f in set(listed.split("\0")) if f and (REPO_ROOT / f).is_file())
    copy = tmp_path_factory.mktemp("source")
    for name in files:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, copy / name)
    return copy, files


@pytest.fixture(scope="module")
def wheel(source: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy, _files = source
    dist = tmp_path_factory.mktemp("dist")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "-q", "-w", dist, copy, cwd=copy)
    (built,) = dist.glob("tracetag-*.whl")
    return built


def test_the_wheel_holds_the_package_its_pages_and_migrations(
    wheel: Path, source: tuple[Path, list[str]]
) -> None:
    _copy, files = source
    expected = {
        shipped + name.removeprefix(folder)
        for name in files
        for folder, shipped in SHIPPED.items()
        if name.startswith(folder)
    }
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    info = {n for n in names if n.startswith("tracetag-") and ".dist-info/" in n}
    missing, unexpected = sorted(expected - names), sorted(names - info - expected)
    assert (missing, unexpected) == ([], [])
    for needed in (
        "tracetag/public_pages/templates/batch.html",
        "tracetag/public_pages/static/style.css",
        "tracetag/migrations/env.py",
        "tracetag/migrations/script.py.mako",
        "tracetag/migrations/versions/0001_initial_schema.py",
        "tracetag/locale/vi/LC_MESSAGES/messages.po",
    ):
        assert needed in names


@dataclass(frozen=True)
class Installed:
    bin: Path
    site_packages: Path


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A virtualenv outside the repo with tracetag from the wheel and nowhere else."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    )
    # The dependencies are this run's; tracetag is not among them: the test run's own
    # tracetag is an editable install, whose finder is set up by a .pth file that a path
    # added here does not read.
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python)
    _run(*pip, "install", "--no-deps", "--no-index", "-q", wheel)
    return Installed(bin=venv / "bin", site_packages=purelib)


def _clean_env(**settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRACETAG_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    return env | settings


@pytest.fixture
def operator(tmp_path: Path) -> tuple[Path, Path]:
    """An empty working directory, and a data directory that does not exist yet."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd, tmp_path / "data" / "tracetag"


def test_tracetag_and_its_files_come_from_the_wheel(
    installed: Installed, operator: tuple[Path, Path]
) -> None:
    cwd, _data = operator
    where = _run(
        installed.bin / "python",
        "-c",
        "import tracetag\n"
        "from tracetag.core.resources import MIGRATIONS, PUBLIC_PAGES, package_path\n"
        "print(tracetag.__file__, package_path(PUBLIC_PAGES), package_path(MIGRATIONS))",
        cwd=cwd,
        env=_clean_env(),
    ).stdout.split()
    assert len(where) == 3
    for path in map(Path, where):
        assert path.is_relative_to(installed.site_packages), path
        assert not path.is_relative_to(REPO_ROOT), path


def test_an_operator_migrates_makes_a_key_loads_the_demo_and_serves(
    installed: Installed, operator: tuple[Path, Path], tmp_path: Path
) -> None:
    cwd, data = operator
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _clean_env(TRACETAG_DATA_DIR=str(data), TRACETAG_PUBLIC_BASE_URL=base)
    before = _files(installed.site_packages)
    tracetag = installed.bin / "tracetag"

    assert "database at head" in _run(tracetag, "db", "upgrade", cwd=cwd, env=env).stdout
    created = _run(tracetag, "keys", "generate", cwd=cwd, env=env).stdout
    assert f"in {data / 'keys'}" in created, created
    demo = _run(tracetag, "demo", cwd=cwd, env=env).stdout
    page = re.search(r"demo batch page:\s+(\S+)", demo)
    assert "demo data loaded" in demo and page is not None, demo

    vi = translations("vi")  # the repo's catalog, the oracle for what the wheel's one says
    verified, check = vi.gettext("Verified record"), vi.gettext("Check a product")
    assert verified != "Verified record" and check != "Check a product"
    css = (REPO_ROOT / "public_pages" / "static" / "style.css").read_text(encoding="utf-8")
    with (
        tracetag_serve(env, port, tmp_path / "serve.log", tracetag=[str(tracetag)], cwd=cwd),
        httpx.Client(base_url=base, timeout=10, headers={"Accept-Language": "vi"}) as http,
    ):
        assert http.get("/healthz").json()["status"] == "ok"
        home = http.get("/")
        assert home.status_code == 200 and check in home.text
        batch = http.get(page[1])
        assert batch.status_code == 200
        assert verified in batch.text and "Gạo ST25 Thạnh Phú" in batch.text
        assert f"<style>{css}</style>" in batch.text
        assert http.get("/static/style.css").text == css
        # The portal's templates and stylesheet ship too, and the printed demo login opens it.
        login = re.search(r"producer login:\s+(\S+)\s+password: (\S+)", demo)
        assert login is not None, demo
        form = http.get("/portal/login")
        assert form.status_code == 200 and vi.gettext("Sign in") in form.text
        assert http.get("/static/portal.css").status_code == 200
        token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = http.post(
            "/portal/login",
            data={"email": login[1], "password": login[2], "csrftoken": token[1]},
        )
        assert signed_in.status_code == 303
        assert "Gạo ST25 Thạnh Phú" in http.get("/portal/dashboard").text
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600  # made at first start
    assert "Traceback" not in (tmp_path / "serve.log").read_text()

    assert (data / "tracetag.db").is_file()
    (private,) = (data / "keys").glob("*.key.pem")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert list((data / "keys").glob("*.pub.pem"))
    assert list(cwd.iterdir()) == []
    assert _files(installed.site_packages) == before
