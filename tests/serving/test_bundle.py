"""Serving bundles: written from the registry, served by ``slipway serve --bundle`` with no database.

One store for the module (two line versions behind an endpoint, a pyfunc version an admin
trusted and one nobody did); each test bundles what it needs into its own folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _server import LiveServer, live_server
from _serving_models import register, write_line, write_scaled
from starlette.testclient import TestClient
from typer.testing import CliRunner

from slipway import Client, load_settings
from slipway.cli import app
from slipway.errors import Conflict, ContentMismatch, UntrustedModel
from slipway.serving import BUNDLE_MANIFEST, bundle_endpoint, bundle_model, create_inference_app, open_bundle
from slipway.serving._bundle import BundleModels

__all__ = ["live_server"]  # the session's server, for bundling in remote mode
_EXE = shutil.which("slipway", path=str(Path(sys.executable).parent)) or shutil.which("slipway")
_ROWS = {"dataframe_split": {"columns": ["a", "b"], "data": [[2.0, 1.0]]}}  # 2a - b + 0.5 = 3.5


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with endpoint ``rings`` (line/1 weight 3, line/2 weight 1, capture 100%), ``scaled/1``
    (pyfunc, trusted by an admin) and ``raw/1`` (pyfunc, trusted by nobody)."""
    root = tmp_path_factory.mktemp("bundles")
    home = root / "home"
    with _client(home) as client:
        registry = client.registry
        first = register(registry, write_line(root / "line1"))
        second = register(registry, write_line(root / "line2"))
        registry.set_alias("line", "prod", 2)
        client.serving.create_endpoint(
            "rings", [{"model": first, "weight": 3}, {"model": second, "weight": 1}],
            capture={"sampling_percent": 100, "max_records_per_file": 1000},
        )
        scaled = register(registry, write_scaled(root / "scaled"), "scaled")
        registry.trust_version("scaled", 1, comment="our own pyfunc model")
        register(registry, write_scaled(root / "raw"), "raw", approve=False)
        assert scaled == "scaled/1"
    return home


def _client(home: Path) -> Client:
    return Client(load_settings(env={}, cwd=home.parent, home=str(home)))


@pytest.fixture(scope="module")
def rings(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle of endpoint ``rings``, to copy and tamper with."""
    with _client(home) as client:
        folder = tmp_path_factory.mktemp("rings") / "bundle"
        bundle_endpoint(client.registry, client.serving.get_endpoint("rings"), folder)
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _running(command: list[str], env: dict[str, str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` started, polled until GET /ping answers 200; killed at the end if still running."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # two worker processes on a busy machine
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "slipway serve --bundle did not become ready"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_endpoint_bundle_serves_from_its_dockerfile_command_with_no_database(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["endpoints", "bundle", "rings", "--output", str(folder), "--json"],
                                env={"SLIPWAY_HOME": str(home)})
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert [(v["name"], v["weight"]) for v in written["endpoint"]["variants"]] == [("line-v1", 3.0), ("line-v2", 1.0)]
    assert sorted(written["files"]) == sorted(
        p.relative_to(folder).as_posix() for p in (folder / "models").rglob("*") if p.is_file()
    )

    # The Dockerfile's command and the Deployment's are one, run here as a container would run it.
    lines = (folder / "Dockerfile").read_text().splitlines()
    command = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    deployment, service = yaml.safe_load_all((folder / "kubernetes.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == command and command[:4] == ["slipway", "serve", "--bundle", "/bundle"]
    assert service["kind"] == "Service"
    assert deployment["metadata"]["annotations"]["slipway.dev/bundle-digest"] == written["digest"]
    install = next(line for line in lines if line.startswith("RUN pip install"))
    assert "'slipway-mlops[s3]==" in install and "'scikit-learn==" in install
    port = _free_port()
    here = {"/bundle": str(folder), "0.0.0.0": "127.0.0.1", "8080": str(port), "slipway": str(_EXE)}
    # No store anywhere: a database and an artifact store that cannot be reached, an empty home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "AWS_"))}
    empty = tmp_path / "no-home"
    env.update(SLIPWAY_HOME=str(empty), SLIPWAY_DB_URL="postgresql+psycopg://nobody@127.0.0.1:1/none",
               SLIPWAY_ARTIFACT_URL="s3://no-such-bucket/none", SLIPWAY_CAPTURE_URL=str(tmp_path / "capture"))
    url = f"http://127.0.0.1:{port}"
    # One worker process, where the two variants would ask for two: the machine's budget.
    run = [*(here.get(part, part) for part in command), "--workers", "1"]
    with _running(run, env, url) as proc, httpx.Client() as http:
        answers = [http.post(f"{url}/invocations", json=_ROWS) for _ in range(40)]
        assert {a.status_code for a in answers} == {200}
        assert {round(a.json()["predictions"][0], 6) for a in answers} == {3.5}
        served = [a.headers["x-slipway-variant"] for a in answers]
        assert {"line-v1", "line-v2"} == set(served) and served.count("line-v1") > served.count("line-v2")
        v2 = http.post(f"{url}/v2/models/rings/versions/line-v2/infer", json={"inputs": [
            {"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]},
            {"name": "b", "shape": [1], "datatype": "FP64", "data": [0.0]}]})
        assert v2.status_code == 200 and v2.json()["outputs"][0]["data"] == [pytest.approx(2.5)]
        ids = [a.headers["x-slipway-inference-id"] for a in [*answers, v2]]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    captured = [json.loads(line) for f in (tmp_path / "capture" / "rings").rglob("*.jsonl")
                for line in f.read_text().splitlines()]
    assert sorted(r["inference_id"] for r in captured) == sorted(ids)  # flushed at SIGTERM, 100% as bundled
    assert not empty.exists()  # no database file, no artifact folder, nothing


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def test_a_changed_added_or_missing_file_is_refused_by_name(rings: Path, tmp_path: Path) -> None:
    model_file = next(p for p in sorted((rings / "models" / "line" / "2").iterdir()) if p.suffix == ".skops")
    relative = model_file.relative_to(rings).as_posix()
    copy = _copy(rings, tmp_path)
    with (copy / relative).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ContentMismatch, match=f"bundle file {relative} hashes to") as changed:
        open_bundle(copy)
    assert changed.value.field == relative
    refused = CliRunner().invoke(app, ["serve", "--bundle", str(copy), "--port", "1"])  # refused before binding
    assert refused.exit_code != 0 and relative in refused.output
    both = CliRunner().invoke(app, ["serve", "rings", "--bundle", str(copy)])
    assert both.exit_code == 2 and "not both" in both.output
    stray = CliRunner().invoke(app, ["serve", "rings", "--expect-digest", "sha256:0"])
    assert stray.exit_code == 2 and "applies with --bundle only" in stray.output

    shutil.copy(rings / relative, copy / relative)
    (copy / "models" / "line" / "1" / "extra.pkl").write_bytes(b"planted")
    with pytest.raises(ContentMismatch, match="models/line/1/extra.pkl is not in the bundle's manifest"):
        open_bundle(copy)
    (copy / "models" / "line" / "1" / "extra.pkl").unlink()
    (copy / relative).unlink()
    with pytest.raises(ContentMismatch, match=f"{relative} is missing"):
        open_bundle(copy)

    # A model's folder is where the bundle keeps its version, never a path of the manifest's choosing.
    shutil.copy(rings / relative, copy / relative)
    manifest = json.loads((copy / BUNDLE_MANIFEST).read_text())
    manifest["models"][0]["path"] = "models/../../elsewhere"
    (copy / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ContentMismatch, match="models/../../elsewhere is not where the bundle keeps"):
        open_bundle(copy)


def test_trust_is_the_registry_mark_honoured_only_for_a_pinned_bundle(home: Path, tmp_path: Path) -> None:
    with _client(home) as client:
        with pytest.raises(UntrustedModel, match="slipway models trust raw 1"):
            bundle_model(client.registry, "raw/1", tmp_path / "raw", force=True)
        assert not (tmp_path / "raw").exists()
        with pytest.raises(Conflict, match="not Approved"):
            bundle_model(client.registry, "raw/1", tmp_path / "raw")
        written = bundle_model(client.registry, "scaled/1", tmp_path / "scaled")
    [model] = written.manifest.models
    assert model.trusted_by is not None and model.trusted_at is not None

    with pytest.raises(UntrustedModel, match="--expect-digest"):
        BundleModels(open_bundle(written.path)).load_model(model.uri)  # the folder cannot vouch for itself
    pinned = open_bundle(written.path, expect_digest=written.digest)
    assert BundleModels(pinned).load_model(model.uri).predict({"a": [2.0], "b": [0.0]}).tolist() == [2.0]

    # Whoever can write the folder can write the manifest: any change of it breaks the pin.
    manifest = json.loads((written.path / BUNDLE_MANIFEST).read_text())
    manifest["models"][0]["trusted_by"] = "mallory"
    (written.path / BUNDLE_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ContentMismatch, match=BUNDLE_MANIFEST):
        open_bundle(written.path, expect_digest=written.digest)


def test_a_model_bundle_by_alias_captures_to_s3(home: Path, tmp_path: Path, s3_server: Any, s3_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "prod"
    result = CliRunner().invoke(app, ["models", "bundle", "line@prod", "--output", str(folder), "--json"],
                                env={"SLIPWAY_HOME": str(home)})
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written["source"] == "models:/line@prod" and written["endpoint"]["name"] == "line"
    assert [m["version"] for m in written["models"]] == [2] and written["models"][0]["aliases"] == ["prod"]
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("SLIPWAY_S3_ENDPOINT_URL", s3_server.endpoint_url)):
        monkeypatch.setenv(name, value)
    host = open_bundle(folder, expect_digest=written["digest"]).serving_host(capture_url=s3_url)
    with TestClient(create_inference_app(host, "line")) as http:
        ids = [http.post("/invocations", json=_ROWS).headers["x-slipway-inference-id"] for _ in range(5)]
    prefix = s3_url.removeprefix(f"s3://{s3_server.bucket}/") + "/line/capture/"
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)["Contents"]
    bodies = [s3_server.client().get_object(Bucket=s3_server.bucket, Key=o["Key"])["Body"].read() for o in listed]
    assert sorted(json.loads(line)["inference_id"] for b in bodies for line in b.decode().splitlines()) == sorted(ids)


def test_a_bundle_is_written_in_remote_mode_from_what_the_server_holds(live_server: LiveServer,
                                                                      tmp_path: Path) -> None:
    with live_server.client() as client:
        version = client.registry.register_model("bundled-remotely", write_line(tmp_path / "line"))
        client.registry.approve("bundled-remotely", version.version)
        written = bundle_model(client.registry, f"bundled-remotely/{version.version}", tmp_path / "bundle")
    [model] = open_bundle(written.path, expect_digest=written.digest).manifest.models
    assert model.content_hash == version.content_hash and model.trusted_by is None
    loaded = BundleModels(open_bundle(written.path)).load_model(model.uri)
    assert loaded.predict({"a": [2.0], "b": [1.0]}).round(6).tolist() == [3.5]
