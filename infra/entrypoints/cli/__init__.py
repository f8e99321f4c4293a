"""The promocredits command line."""
