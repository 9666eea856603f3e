"""The verifier runs on an inspector's laptop: importing it loads no database, web or log code."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "jinja2",
    "tracetag.batches",
    "tracetag.translog",
    "tracetag.web",
)

PROGRAM = """
import json, sys
import tracetag.verify.bundle, tracetag.verify.keys, tracetag.verify.log
import tracetag.verify.records, tracetag.verify.tags
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_verifier_loads_nothing_of_the_service() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(out.stdout)
    assert "tracetag.verify.bundle" in loaded  # the program imported what it should
    offending = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert offending == []
