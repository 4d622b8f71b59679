"""Registering from ``s3://``: a single object and a prefix of parts, through fsspec, on a local S3 server."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from _s3 import S3Server

from slipway.datasets import DatasetService
from slipway.errors import NotFound

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server reached as a user would reach theirs: endpoint and credentials from the environment."""
    monkeypatch.setenv("SLIPWAY_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return s3_server


def test_objects_and_prefixes(datasets: DatasetService, s3_env: S3Server, s3_url: str, abalone_csv: Path,
                              abalone: pd.DataFrame) -> None:
    s3 = s3_env.client()
    prefix = s3_url.removeprefix(f"s3://{s3_env.bucket}/")
    s3.put_object(Bucket=s3_env.bucket, Key=f"{prefix}/abalone.csv", Body=abalone_csv.read_bytes())
    for part, rows in (("a", abalone.iloc[:3000]), ("b", abalone.iloc[3000:])):
        body = io.BytesIO()
        rows.to_parquet(body, index=False)
        s3.put_object(Bucket=s3_env.bucket, Key=f"{prefix}/parts/{part}.parquet", Body=body.getvalue())

    whole = datasets.register("abalone", f"{s3_url}/abalone.csv")
    assert whole.created and whole.version.num_rows == 4177 and whole.version.source == f"{s3_url}/abalone.csv"
    parts = datasets.register("abalone", f"{s3_url}/parts")
    assert not parts.created and parts.version.id == whole.version.id  # the same rows, in two objects
    with pytest.raises(NotFound):
        datasets.register("abalone", f"{s3_url}/missing.csv")
