"""Luciferase, Western-blot and apoptosis runs: tables, classical tests, figures, report."""
