"""Producers (OCOP "chủ thể"): who makes the product."""
