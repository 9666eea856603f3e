"""Keys on disk, compact JWS of records, and the public key set (JWKS)."""
