"""anonymeter's three risks through the package, with its frames prepared for it, and an
exact fast re-implementation of its inference attack."""
