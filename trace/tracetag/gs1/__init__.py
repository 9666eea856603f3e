"""GS1 rules and formats, pure and database-free: AIs, Digital Link URIs, serials, linksets."""
