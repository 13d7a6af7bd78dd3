"""The study's claims (evaluated from the runs' draws), its chain figure and its report."""
