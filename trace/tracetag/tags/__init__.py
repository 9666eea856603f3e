"""Unit tags: a unique, signed serial per item, issued in atomic, idempotent runs."""
