"""Consumer scans of unit tags: recorded with group commit, counted exactly, copies flagged."""
