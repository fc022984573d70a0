"""The root of every error tgstat raises on purpose."""


class TgstatError(Exception):
    """Base of tgstat's own errors: a user-facing command prints its message as one line."""
