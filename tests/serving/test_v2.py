"""The Open Inference Protocol (KServe V2) on ``slipway serve``'s app, spoken by a real V2 client (tritonclient).

One endpoint with two variants of the abalone model (a string column and seven measurements) is served
over uvicorn on loopback for the module; the client sends typed tensors in both layouts, in JSON and in
the binary extension, and reads the metadata, health and errors the protocol defines.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from _registry_workers import make_registry
from _server import serving
from _serving_models import abalone_frame, register, write_abalone, write_line

from slipway.registry import RegistryService
from slipway.serving import ServingHost, ServingService, create_inference_app
from slipway.store import Database

tritonclient = pytest.importorskip("tritonclient.http")
InferInput, InferRequestedOutput = tritonclient.InferInput, tritonclient.InferRequestedOutput
InferenceServerException = pytest.importorskip("tritonclient.utils").InferenceServerException

ROWS = abalone_frame().drop(columns=["rings"]).head(3)
NUMERIC = [c for c in ROWS.columns if c != "sex"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RegistryService]]:
    home = tmp_path_factory.mktemp("v2")
    db = Database(f"sqlite:///{home / 'meta.db'}")
    db.ensure_schema()
    registry = make_registry(db, home)
    service = ServingService(db, registry)
    first = register(registry, write_abalone(home / "abalone"), "abalone")
    second = register(registry, home / "abalone", "abalone")  # the same files: a second variant, same answers
    service.create_endpoint("abalone", [{"model": first, "name": "blue", "weight": 3},
                                        {"model": second, "name": "green", "weight": 1}])
    service.create_endpoint("line", [{"model": register(registry, write_line(home / "line"))}])
    host = ServingHost(service, registry, registry._artifacts, poll_seconds=3600)
    host.start("abalone")  # what the app's start-up does (the test server runs no lifespan)
    try:
        with serving(create_inference_app(host, "abalone")) as url:
            yield url, registry
    finally:
        host.close()
        db.dispose()


@pytest.fixture(scope="module")
def client(served: tuple[str, RegistryService]):  # type: ignore[no-untyped-def]
    http = tritonclient.InferenceServerClient(url=served[0].removeprefix("http://"))
    yield http
    http.close()


def _columns(binary: bool) -> list:  # type: ignore[type-arg]
    sex = InferInput("sex", [len(ROWS)], "BYTES")
    sex.set_data_from_numpy(ROWS["sex"].to_numpy(dtype=object), binary_data=binary)
    inputs = [sex]
    for name in NUMERIC:
        tensor = InferInput(name, [len(ROWS), 1], "FP32")
        tensor.set_data_from_numpy(ROWS[[name]].to_numpy(np.float32), binary_data=binary)
        inputs.append(tensor)
    return inputs


def _expected(registry: RegistryService) -> np.ndarray:
    return np.asarray(registry.load_model("models:/abalone/1").predict(ROWS))


def test_health_and_metadata(client, served) -> None:  # type: ignore[no-untyped-def]
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("abalone") and client.is_model_ready("abalone", "green")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata("abalone")
    assert meta["name"] == "abalone" and meta["versions"] == ["blue", "green"]
    inputs = {t["name"]: (t["datatype"], t["shape"]) for t in meta["inputs"]}
    assert inputs["sex"] == ("BYTES", [-1]) and inputs["whole weight"] == ("FP64", [-1]) and len(inputs) == 8
    assert meta["outputs"] == [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
    assert client.get_model_metadata("abalone", "green")["name"] == "abalone"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_columns_layout_with_strings(client, served, binary: bool) -> None:  # type: ignore[no-untyped-def]
    outputs = [InferRequestedOutput("predictions", binary_data=binary)]
    result = client.infer("abalone", _columns(binary), outputs=outputs, request_id="r-1")
    np.testing.assert_allclose(result.as_numpy("predictions"), _expected(served[1]), rtol=1e-5)
    answer = result.get_response()
    assert answer["id"] == "r-1" and answer["model_name"] == "abalone" and answer["model_version"] in ("blue", "green")
    assert answer["outputs"][0]["datatype"] == "FP64" and answer["outputs"][0]["shape"] == [3]


def test_a_version_is_a_variant(client, served) -> None:  # type: ignore[no-untyped-def]
    for variant in ("blue", "green"):
        result = client.infer("abalone", _columns(True), model_version=variant)
        assert result.get_response()["model_version"] == variant
    with pytest.raises(InferenceServerException, match="no variant 'red'") as refused:
        client.infer("abalone", _columns(True), model_version="red")
    assert refused.value.status() == "400"


def test_rows_layout_plain_json_nested_data(served) -> None:  # type: ignore[no-untyped-def]
    """Rows as one tensor of the signature's columns (a table all of one type), nested lists, no client library."""
    url, registry = served
    rows = ROWS.assign(sex=0.0)  # all numbers: the model's one-hot encoder ignores the unknown category
    body = {"inputs": [{"name": "rows", "shape": [3, 8], "datatype": "FP64", "data": rows.to_numpy().tolist()}],
            "outputs": [{"name": "predictions"}]}
    resp = httpx.post(f"{url}/v2/models/abalone/infer", json=body, timeout=30)
    assert resp.status_code == 400  # a float where the signature wants a string: named, a 400
    assert "sex" in resp.json()["error"]
    line = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [[1, 2], [3, 1]]}]}
    assert httpx.post(f"{url}/v2/models/line/infer", json=line, timeout=30).status_code == 404  # serves abalone only


def test_gzip_body_and_parameters(served) -> None:  # type: ignore[no-untyped-def]
    url, registry = served
    body = {"id": "z", "parameters": {"custom": 1},
            "inputs": [{"name": "sex", "shape": [3], "datatype": "BYTES", "data": ROWS["sex"].tolist()},
                       *({"name": n, "shape": [3], "datatype": "FP64", "data": ROWS[n].tolist()} for n in NUMERIC)]}
    resp = httpx.post(f"{url}/v2/models/abalone/versions/blue/infer", content=gzip.compress(json.dumps(body).encode()),
                      headers={"content-encoding": "gzip", "content-type": "application/json"}, timeout=30)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["id"] == "z" and answer["model_version"] == "blue"
    np.testing.assert_allclose(answer["outputs"][0]["data"], _expected(registry))
    assert resp.headers["x-slipway-variant"] == "blue"


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b["inputs"][0].update(datatype="FP128"), "datatype"),
    (lambda b: b["inputs"][1].update(shape=[4]), "holds 3 values"),
    (lambda b: b["inputs"][1].update(data=["x", "y", "z"]), "must be numbers"),
    (lambda b: b["inputs"].append({"name": "gills", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}), "gills"),
    (lambda b: b.update(outputs=[{"name": "probabilities"}]), "no output 'probabilities'"),
    (lambda b: b.update(inputs=[]), "non-empty"),
])
def test_malformed_requests_are_400s_in_the_protocols_shape(served, change, field) -> None:  # type: ignore[no-untyped-def]
    url, _ = served
    body = {"inputs": [{"name": "sex", "shape": [3], "datatype": "BYTES", "data": ROWS["sex"].tolist()},
                       *({"name": n, "shape": [3], "datatype": "FP64", "data": ROWS[n].tolist()} for n in NUMERIC)]}
    change(body)
    resp = httpx.post(f"{url}/v2/models/abalone/infer", json=body, timeout=30)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]


def test_unknown_model_and_bad_binary_header(client, served) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InferenceServerException) as missing:
        client.get_model_metadata("nothing")
    assert missing.value.status() == "404"
    url, _ = served
    resp = httpx.post(f"{url}/v2/models/abalone/infer", content=b"{}",
                      headers={"inference-header-content-length": "99"}, timeout=30)
    assert resp.status_code == 400 and "past the body" in resp.json()["error"]


def test_scoring_json_and_csv_still_answer(served) -> None:  # type: ignore[no-untyped-def]
    url, registry = served
    resp = httpx.post(f"{url}/invocations", json={"dataframe_split": json.loads(ROWS.to_json(orient="split"))},
                      timeout=30)
    np.testing.assert_allclose(resp.json()["predictions"], _expected(registry))
    csv = httpx.post(f"{url}/invocations", content=ROWS.to_csv(index=False), headers={"content-type": "text/csv"},
                     timeout=30)
    np.testing.assert_allclose(csv.json()["predictions"], _expected(registry))


def test_served_by_slipway_server_too(tmp_path: Path) -> None:
    """The server's inference mount answers V2 behind its tokens: health open, inference needs invoke."""
    from _server import running_server, server_settings

    with running_server(server_settings(tmp_path)) as server, server.client() as remote:
        package = write_line(tmp_path / "line")
        version = remote.registry.register_model("line", package)
        remote.registry.approve("line", version.version)
        remote.serving.create_endpoint("line", [{"model": f"line/{version.version}"}])
        http = tritonclient.InferenceServerClient(url=server.url.removeprefix("http://"))
        try:
            assert http.is_server_live()
            with pytest.raises(InferenceServerException) as refused:
                http.get_model_metadata("line")
            assert refused.value.status() == "401"
            headers = server.headers
            assert http.get_model_metadata("line", headers=headers)["inputs"][0]["name"] == "a"
            a, b = InferInput("a", [1], "FP64"), InferInput("b", [1], "FP64")
            a.set_data_from_numpy(np.array([1.0]))
            b.set_data_from_numpy(np.array([2.0]))
            result = http.infer("line", [a, b], headers=headers)
            np.testing.assert_allclose(result.as_numpy("predictions"), [0.5])
        finally:
            http.close()
