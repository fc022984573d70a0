"""A real S3 endpoint for tests: moto's server on loopback, reached as a bucket would be."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import boto3
from moto.server import ThreadedMotoServer


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """An empty S3 endpoint (no bucket) on 127.0.0.1; yields its URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of ``endpoint`` (moto takes any credentials)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
