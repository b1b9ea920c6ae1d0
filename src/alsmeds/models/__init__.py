"""Statistical models of the bundle."""
