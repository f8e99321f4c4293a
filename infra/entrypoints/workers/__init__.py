"""The long-running parts of the service: each runs until asked to stop."""
