"""Event store recorders and database URLs."""
