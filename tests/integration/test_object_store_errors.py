"""An ``s3://`` lake that cannot be used (no credentials, no bucket, no endpoint), and a
PREFECT_API_URL that is not Prefect: one clear line each, and doctor creates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from tests.integration.cli import clean_env, run_tgstat
from tests.integration.http import serving
from tests.integration.s3 import moto_endpoint, s3_client
from tests.integration.test_doctor import doctor
from tgstat.app.prefect_server import free_port

LAKE = "s3://nobucket/lake"


@pytest.fixture(name="endpoint", scope="module")
def _endpoint() -> Iterator[str]:
    """An S3 endpoint (moto) on 127.0.0.1 without any bucket."""
    with moto_endpoint() as endpoint:
        yield endpoint


def aws_env(tmp_path: Path, endpoint: str, *, credentials: bool, **extra: str) -> dict[str, str]:
    env = clean_env(
        TGSTAT_HOME=str(tmp_path),
        TGSTAT_LAKE_URL=LAKE,
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        **extra,
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    if credentials:
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="secret-testing-key")
    return env


def buckets(endpoint: str) -> list[str]:
    return [b["Name"] for b in s3_client(endpoint).list_buckets()["Buckets"]]


class TestLakeEtl:
    """``tgstat lake etl`` on an unusable object store: one line, exit 2."""

    @pytest.mark.parametrize("reachable", [True, False], ids=["no-credentials", "no-endpoint"])
    def test_one_line(self, reachable: bool, endpoint: str, tmp_path: Path) -> None:
        url = endpoint if reachable else f"http://127.0.0.1:{free_port()}"
        env = aws_env(tmp_path, url, credentials=not reachable)
        done = run_tgstat("lake", "etl", "--date", "2026-11-01", env=env)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"tgstat: error: lake etl: {LAKE}: "), lines
        expected = "NoCredentialsError" if reachable else "EndpointConnectionError"
        assert expected in lines[0]


class TestDoctorLake:
    """doctor's lake line on an object store: read-only, one line."""

    @pytest.mark.parametrize(
        ("credentials", "expected"),
        [
            (False, " cannot be read: NoCredentialsError: Unable to locate credentials"),
            (True, ": bucket 'nobucket' does not exist or these credentials cannot see it"),
        ],
        ids=["no-credentials", "no-bucket"],
    )
    def test_fails_and_creates_nothing(
        self, credentials: bool, expected: str, endpoint: str, db_url: str, tmp_path: Path
    ) -> None:
        env = aws_env(tmp_path, endpoint, credentials=credentials, TGSTAT_DATABASE_URL=db_url)
        code, checks = doctor(env)
        assert code == 1
        assert checks["lake"][0] == "FAIL"
        assert checks["lake"][1].startswith(LAKE + expected)
        assert "secret-testing-key" not in str(checks)
        assert "nobucket" not in buckets(endpoint)


class TestDoctorPrefect:
    """A PREFECT_API_URL answered by something else than Prefect: one line."""

    def test_plain_http_server(self, db_url: str, tmp_path: Path) -> None:
        with serving(Starlette()) as base:  # answers 404 to everything
            env = clean_env(
                TGSTAT_HOME=str(tmp_path), TGSTAT_DATABASE_URL=db_url, PREFECT_API_URL=base
            )
            code, checks = doctor(env)
        assert code == 1
        assert checks["prefect"][0] == "FAIL"
        assert "404 Not Found" in checks["prefect"][1]
        assert "For more information" not in str(checks)
        assert "developer.mozilla.org" not in str(checks)
