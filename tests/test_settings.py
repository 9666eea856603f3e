"""Where the data goes: TRACETAG_DATA_DIR, the development default, and production's demands."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tracetag.settings import Settings

PRODUCTION = {
    "env": "production",
    "database_url": "postgresql+psycopg://tracetag@db/tracetag",
    "public_base_url": "https://truyxuat.example.vn",
    "key_passphrase": "from the secret store",
}


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ENV", "DATA_DIR", "DATABASE_URL", "KEYS_DIR", "KEY_PASSPHRASE"):
        monkeypatch.delenv(f"TRACETAG_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_data_dir_holds_the_database_and_the_keys(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'tracetag.db'}"
    assert settings.keys_dir == tmp_path / "data" / "keys"


def test_the_data_dir_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACETAG_DATA_DIR", str(tmp_path / "srv"))
    assert Settings().keys_dir == tmp_path / "srv" / "keys"


def test_a_relative_data_dir_is_fixed_where_the_settings_are_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = Settings(data_dir=Path("data"))
    monkeypatch.chdir("/")
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'tracetag.db'}"


def test_explicit_settings_win_over_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///x.db", keys_dir=Path("/k"))
    assert (settings.database_url, settings.keys_dir) == ("sqlite:///x.db", Path("/k"))


def test_development_without_a_data_dir_uses_a_checkout_s_layout(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.data_dir is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'tracetag.db'}"
    assert settings.keys_dir == tmp_path / "keys"


def test_an_empty_data_dir_is_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACETAG_DATA_DIR", "")
    assert Settings().keys_dir == tmp_path / "keys"


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValidationError, match=r"TRACETAG_DATA_DIR=.*/file is not a directory"):
        Settings(data_dir=tmp_path / "file")


def test_production_asks_where_the_keys_go() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(**PRODUCTION)
    (error,) = raised.value.errors()
    assert "TRACETAG_DATA_DIR must name the directory that holds the signing keys" in error["msg"]
    assert "TRACETAG_DATABASE_URL" not in error["msg"]


@pytest.mark.parametrize("where", [{"data_dir": "/srv/tracetag"}, {"keys_dir": "/srv/keys"}])
def test_production_takes_a_data_dir_or_a_keys_dir(where: dict[str, str]) -> None:
    settings = Settings(**PRODUCTION, **where)
    assert settings.keys_dir.is_relative_to("/srv")
    assert settings.database_url == PRODUCTION["database_url"]


def test_production_does_not_fall_back_to_sqlite_in_the_data_dir() -> None:
    without_database = {k: v for k, v in PRODUCTION.items() if k != "database_url"}
    with pytest.raises(ValidationError, match="TRACETAG_DATABASE_URL must point to PostgreSQL"):
        Settings(**without_database, data_dir="/srv/tracetag")


def test_a_bad_setting_is_the_only_error_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACETAG_ENV", "prod")
    monkeypatch.setenv("TRACETAG_PUBLIC_BASE_URL", "truyxuat.example.vn")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert [e["loc"] for e in raised.value.errors()] == [("env",), ("public_base_url",)]
