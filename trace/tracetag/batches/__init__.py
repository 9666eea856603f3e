"""Batches and their signed, append-only record versions."""
