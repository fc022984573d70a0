"""``tgstat doctor``: is everything tgstat needs in place and working? One verdict per check.

Checks only read: nothing is created (not even the secret key file) and nothing migrated.
"""

from __future__ import annotations

from datetime import datetime

from tgstat.app.doctor.database import database_checks
from tgstat.app.doctor.model import Check, Verdict
from tgstat.app.doctor.services import lake_check, prefect_checks
from tgstat.app.settings import Settings

__all__ = ["Check", "Verdict", "run_checks"]


def run_checks(settings: Settings, now: datetime) -> list[Check]:
    """Every check, in report order."""
    return [*database_checks(settings, now), *prefect_checks(settings), lake_check(settings, now)]
