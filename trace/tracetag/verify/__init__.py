"""The inspector's verifier: records, tags, log proofs, checkpoints and bundles, offline.

It imports formats/ and gs1/ only (pyproject's import contracts), so it runs with no database,
web framework or templates: what `tracetag verify` needs and nothing else. Every check raises a
VerificationError subclass naming the failure; nothing here returns False.
"""
