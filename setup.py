"""Packages of the wheel: tracetag from trace/, plus the repo's public_pages/ and migrations/.

The two top-level folders stay where they are in the repo and ship inside the package as
tracetag.public_pages and tracetag.migrations, found at run time with importlib.resources.
The list lives here rather than in pyproject.toml, whose `packages` is either found or listed,
never both: a new subpackage of tracetag ships without anyone adding it to a list.
"""

from setuptools import find_packages, setup

MAPPED = {
    "tracetag.public_pages": "public_pages",
    "tracetag.migrations": "migrations",
    "tracetag.migrations.versions": "migrations/versions",
}

setup(
    package_dir={"": "trace", **MAPPED},
    packages=[*find_packages("trace"), *MAPPED],
)
