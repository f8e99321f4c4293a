"""Errors the domain raises when a command breaks a rule."""


class LedgerError(Exception):
    """Base class for every rule a command can break."""


class InvalidCommandError(LedgerError):
    """The command's input can never be valid (bad amount, currency, key)."""


class IdempotencyConflictError(LedgerError):
    """An idempotency key was reused with different content."""
