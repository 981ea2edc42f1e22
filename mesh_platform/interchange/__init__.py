"""Open interchange formats the mesh exports and imports (ODCS data contracts)."""
