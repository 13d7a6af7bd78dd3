"""A dose-response run's tables, figures and report."""
