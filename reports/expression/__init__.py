"""An expression run's tables, report, enrichment (over-representation, CAMERA) and STRING hubs."""
