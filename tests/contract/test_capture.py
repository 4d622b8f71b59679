"""Captured traffic through the server: listed and downloaded by the remote SDK over REST."""

from __future__ import annotations

import json
import time
from pathlib import Path

from _server import LiveServer
from _serving_models import write_line

from slipway.client import invoke_endpoint


def test_a_remote_client_lists_and_downloads_captured_traffic(live_server: LiveServer, tmp_path: Path) -> None:
    name = f"cap-{time.time_ns()}"
    with live_server.client() as client:
        version = client.registry.register_model(name, write_line(tmp_path / "line"))
        client.registry.approve(name, version.version)
        client.serving.create_endpoint(
            name, [{"model": f"{name}/1"}], capture={"sampling_percent": 100, "flush_interval_seconds": 0.2}
        )
        body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 0.0], [2.0, 1.0]]}}).encode()
        invoke_endpoint(client, name, body, "application/json")
        deadline = time.monotonic() + 10
        while not (files := client.serving.list_capture(name)):
            assert time.monotonic() < deadline, "nothing stored within the capture interval"
            time.sleep(0.02)
        assert files[0].records == 1 and files[0].path.startswith("capture/") and files[0].size > 0
        [copy] = client.serving.download_capture(name, tmp_path / "copy")
        [record] = [json.loads(line) for line in copy.read_text().splitlines()]
        assert record["request"]["data"] == [[1.0, 0.0], [2.0, 1.0]] and len(record["response"]) == 2
