"""Signing: key files, the key ring and issuer, and the inspector's check of a record."""
