"""A real S3-compatible server on loopback for the tests: moto's server mode in a subprocess.

The fixtures (``s3_server``, ``s3_storage``, ``s3_url``) are a pytest plugin loaded by
``tests/conftest.py``. A subprocess rather than moto's in-process server, so the objects it
holds do not count against the memory the tests measure with tracemalloc.

Nothing here may reach past 127.0.0.1: the endpoint is given explicitly, the credentials are
dummies, and for the session the AWS configuration files, the instance-metadata lookup and any
HTTP proxy are switched off.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _services import missing_service, port_open

from slipway.store.artifacts import FsspecStorage

BUCKET = "slipway-test"
_REGION = "us-east-1"
_KEY = _SECRET = "testing"


@dataclass(frozen=True)
class S3Server:
    """A running moto server with one empty bucket, :data:`BUCKET`."""

    endpoint_url: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        """Options for :class:`~slipway.store.artifacts.FsspecStorage` (s3fs) to reach this server."""
        return {
            "key": _KEY,
            "secret": _SECRET,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": _REGION},
        }

    def client(self) -> Any:
        """A boto3 S3 client on this server, to look at the bucket behind the code's back."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=_KEY,
            aws_secret_access_key=_SECRET,
            region_name=_REGION,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port, timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"moto_server did not start on 127.0.0.1:{port}:\n{log.read_text()}", pytrace=False)
        time.sleep(0.1)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start moto's S3 server on a free loopback port for the whole session, with one bucket."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401  (moto[server] is what the subprocess runs)
    except ImportError:
        missing_service("moto[server] and boto3 (the local S3 server)")
    home = tmp_path_factory.mktemp("s3")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.delenv("AWS_PROFILE", raising=False)
        for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.delenv(proxy, raising=False)
        env.setenv("NO_PROXY", "127.0.0.1,localhost")

        port = _free_port()
        log = home / "moto.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_listening(proc, port, log)
            server = S3Server(endpoint_url=f"http://127.0.0.1:{port}", bucket=BUCKET)
            server.client().create_bucket(Bucket=BUCKET)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """A fresh, empty ``s3://`` prefix in the test bucket, so tests never see each other's keys."""
    return f"s3://{s3_server.bucket}/test-{uuid.uuid4().hex}"


@pytest.fixture
def s3_storage(s3_server: S3Server, s3_url: str) -> FsspecStorage:
    """An empty :class:`FsspecStorage` on a fresh prefix of the test bucket."""
    return FsspecStorage(s3_url, **s3_server.storage_options)
