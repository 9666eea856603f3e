"""Page routes: the public verification pages."""
