"""Signed formats, pure and database-free: JCS, JWS, JWK and JWKS, AI 8030, the record's type.

docs/FORMATS.md specifies each; an inspector's verifier needs these and nothing of the service.
"""
