"""A qPCR run's tables and report."""
