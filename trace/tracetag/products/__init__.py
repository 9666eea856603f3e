"""Products: what a producer makes, with GTIN, category and image."""
