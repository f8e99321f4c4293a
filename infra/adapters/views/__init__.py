"""View storage for the projections, on SQLite or PostgreSQL."""
