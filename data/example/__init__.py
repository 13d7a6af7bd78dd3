"""Bundled example data (see README.md here for what each file is and how it was made)."""
