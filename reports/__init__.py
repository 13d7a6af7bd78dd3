"""Run directories -> tables, figures and self-contained HTML reports."""
