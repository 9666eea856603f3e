"""Settings, read once from the environment (prefix TRACETAG_) and validated.

It imports no code of the service's own: every room may read settings, and settings depend on none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _in_data_dir(data: dict[str, Any], name: str, in_checkout: str) -> Path:
    """data_dir/name; with no data dir (development only), in_checkout under the current dir."""
    data_dir: Path | None = data.get("data_dir")
    return data_dir / name if data_dir is not None else Path.cwd() / in_checkout


class Settings(BaseSettings):
    """Everything tracetag can be configured with; see the README's table."""

    model_config = SettingsConfigDict(env_prefix="TRACETAG_", extra="ignore")

    # First: the defaults of database_url and keys_dir derive from it, and a default factory
    # sees only the fields declared before it (had one of those failed, it would not run).
    data_dir: Path | None = Field(
        default=None,
        description="Directory of the SQLite database and the signing keys (never the install).",
    )
    database_url: str = Field(
        default_factory=lambda data: (
            f"sqlite:///{_in_data_dir(data, 'tracetag.db', 'var/tracetag.db')}"
        ),
        description="SQLAlchemy URL; sqlite:///… or postgresql+psycopg://…",
    )
    keys_dir: Path = Field(default_factory=lambda data: _in_data_dir(data, "keys", "keys"))
    secret_key_file: Path = Field(
        default_factory=lambda data: _in_data_dir(data, "secret_key", "var/secret_key"),
        description="Where the portal's form-signing secret is kept (made 0600 on first start).",
    )
    env: Literal["development", "production"] = "development"
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Origin that printed QR codes point to; no trailing slash.",
    )
    key_passphrase: SecretStr | None = None
    signing_kid: str | None = Field(
        default=None,
        description="Sign with this key: a pending key is activated at start; a retired or "
        "revoked one stops the start. Default: the key the registry names active.",
    )
    pkcs11_module: Path | None = Field(
        default=None,
        description="A PKCS#11 module (an HSM's .so) whose token holds signing keys; unset: "
        "keys are files only.",
    )
    pkcs11_token: str | None = Field(default=None, description="The token's label.")
    pkcs11_pin: SecretStr | None = Field(default=None, description="The token's user PIN.")
    issuer_name: str = "tracetag"
    max_image_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    image_max_side: int = Field(default=1200, ge=64, le=4096)

    copy_max_scans: int = Field(
        default=20, ge=1, description="Warn of a copied code after this many scans in all."
    )
    copy_max_clients: int = Field(
        default=5, ge=2, description="Warn when this many different clients scan within the window."
    )
    copy_clients_per_network: int = Field(
        default=2,
        ge=1,
        description="Most clients one network (IPv4 /24, IPv6 /48) adds to copy_max_clients.",
    )
    copy_window_hours: int = Field(default=24, ge=1, le=24 * 365)
    record_view_ttl: float = Field(
        default=10.0, ge=0, description="Seconds a tag page reuses a checked record view."
    )
    label_workers: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1),
        ge=1,
        le=64,
        description="Processes that encode QR codes for large PDF label runs.",
    )
    scan_salt: SecretStr | None = Field(
        default=None,
        description="Salt of client fingerprints; default: derived from the signing key.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the portal's form tokens; default: the secret in secret_key_file.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for password-reset mail; unset: mail is logged."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_sender: str = "tracetag <no-reply@localhost>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    scan_queue_size: int = Field(
        default=10_000, ge=1, description="Scans waiting to be stored; beyond it, 503 at once."
    )
    scan_wait_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long a scan page waits for its scan's commit."
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest request body (images: their own)."
    )
    job_worker: bool = Field(
        default=True,
        description="Run the background workers in this process: queued tag jobs, and the "
        "transparency log's integrator; off, other processes run them.",
    )
    log_origin: str | None = Field(
        default=None,
        max_length=200,
        description="The transparency log's name in its checkpoints (C2SP tlog-checkpoint); "
        "default: the public address's host and /log. Fixed once the log has a checkpoint.",
    )
    log_interval: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Seconds between the integrator's looks for new entries to log.",
    )
    log_witnesses: str = Field(
        default="",
        description="Witnesses that cosign the log's checkpoints (c2sp.org/tlog-witness): "
        "entries separated by `;` or newlines, each `<URL> <vkey>`, the witness's submission "
        "prefix (POST <URL>/add-checkpoint) and its cosignature/v1 verifier key, as "
        "`tracetag witness init` prints it; e.g. `https://witness.dost.example "
        "dost.example/w1+1a2b3c4d+BASE64`. Empty: no witnesses.",
    )
    rate_limits: bool = Field(default=True, description="Turn every rate limit on or off.")
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where counters live: memory:// (per process) or async+redis://host:6379.",
    )
    rate_scan: str = Field(
        default="600/minute", description="Scan and batch pages per client address."
    )
    rate_unknown_serial: str = Field(
        default="30/minute;200/hour", description="Serials that were never issued, per client."
    )
    rate_api: str = Field(default="1200/minute", description="API requests per API key.")
    rate_api_unauthenticated: str = Field(
        default="60/minute", description="API requests without a valid key, per client."
    )

    @field_validator("rate_scan", "rate_unknown_serial", "rate_api", "rate_api_unauthenticated")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate such as 600/minute or 30/minute;200/hour: {exc}") from exc
        return value

    @field_validator("log_witnesses")
    @classmethod
    def _witness_entries(cls, value: str) -> str:
        # The shape only: the keys are read where they are used (translog/witnesses.py).
        for entry in value.replace(";", "\n").splitlines():
            parts = entry.split()
            if parts and (len(parts) != 2 or not parts[0].startswith(("http://", "https://"))):
                raise ValueError(f"a witness is `<http(s) URL> <vkey>`, not {entry.strip()!r}")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _empty_data_dir_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Absolute, so the database URL and the keys do not move with the current directory.
        return value.absolute() if value is not None else None

    @field_validator("pkcs11_module", "pkcs11_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("key_passphrase", "secret_key", "smtp_password", "pkcs11_pin")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        return value

    @model_validator(mode="after")
    def _data_dir_is_a_directory(self) -> Settings:
        # Checked here, not on the field: the settings derived from it would add noise errors.
        if self.data_dir is not None and self.data_dir.exists() and not self.data_dir.is_dir():
            raise ValueError(f"TRACETAG_DATA_DIR={self.data_dir} is not a directory")
        return self

    @model_validator(mode="after")
    def _pkcs11_whole(self) -> Settings:
        # A module without its token and PIN would fail at the first signature, not at start.
        given = {
            "TRACETAG_PKCS11_MODULE": self.pkcs11_module is not None,
            "TRACETAG_PKCS11_TOKEN": self.pkcs11_token is not None,
            "TRACETAG_PKCS11_PIN": self.pkcs11_pin is not None,
        }
        if any(given.values()) and not all(given.values()):
            missing = [name for name, set_ in given.items() if not set_]
            raise ValueError(f"a PKCS#11 token needs {', '.join(missing)} set as well")
        return self

    @model_validator(mode="after")
    def _production_needs_real_values(self) -> Settings:
        # Placeholder values are fine on a laptop and wrong in production.
        if self.env == "production":
            problems = []
            if self.database_url.startswith("sqlite"):
                problems.append("TRACETAG_DATABASE_URL must point to PostgreSQL")
            if "127.0.0.1" in self.public_base_url or "localhost" in self.public_base_url:
                problems.append("TRACETAG_PUBLIC_BASE_URL must be the public https origin")
            if self.key_passphrase is None:
                problems.append("TRACETAG_KEY_PASSPHRASE must be set so the key is encrypted")
            if self.data_dir is None and "keys_dir" not in self.model_fields_set:
                problems.append(
                    "TRACETAG_DATA_DIR must name the directory that holds the signing keys "
                    "(or set TRACETAG_KEYS_DIR)"
                )
            if problems:
                raise ValueError("production settings: " + "; ".join(problems))
        return self
