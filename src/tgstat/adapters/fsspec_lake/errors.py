"""What an object store fails with, besides OSError: botocore's errors under s3fs."""

from __future__ import annotations

import sys


def store_errors() -> tuple[type[Exception], ...]:
    """OSError, plus botocore's BotoCoreError (no credentials, endpoint unreachable) and
    ClientError (access denied, ...) once s3fs has imported botocore. Looked up when an
    error is caught, not at import: botocore comes only with the optional ``s3`` extra, and
    a lake that never imported it cannot raise its errors."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return (OSError,)
    return (OSError, exceptions.BotoCoreError, exceptions.ClientError)


def describe(error: Exception) -> str:
    """The error in one line, its kind first (``NoCredentialsError: Unable to locate ...``)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
