"""The append-only audit log: who changed what, when, from where, with the record's hashes."""
