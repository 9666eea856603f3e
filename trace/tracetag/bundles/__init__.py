"""Inspection bundles exported from the service's database (the format is verify/bundle.py)."""
