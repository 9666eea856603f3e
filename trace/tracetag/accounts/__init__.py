"""API keys for admins and producers; stored hashed."""
