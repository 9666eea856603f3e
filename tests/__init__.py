"""The test suite; it runs from a checkout of the repo."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
