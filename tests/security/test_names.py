"""One name policy for every user-named object: no invisible or direction-changing characters, NFC twins are one name.

The attacks, against a live server: name an object so it reads differently from what it is
(``U+202E`` turns ``fraud<RLO>gpj.exe`` into ``fraudexe.jpg`` on screen; a zero-width space or a BOM
makes a second ``fraud`` nobody can tell from the first), or register a look-alike twin whose
accent is encoded the other way (``e`` + combining acute beside ``é``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest

from slipway.pipelines import Pipeline
from slipway.pipelines.steps import WaitStep

INVISIBLE = {
    "U+202E": "fraud\u202egpj.exe",  # right-to-left override
    "U+200B": "fraud\u200b",  # zero-width space
    "U+FEFF": "\ufefffraud",  # byte-order mark
    "U+2066": "fr\u2066aud",  # left-to-right isolate
    "U+00A0": "fraud\u00a0v2",  # a non-breaking space: looks like a space
}

Create = Callable[[httpx.Client, str], httpx.Response]


def _path(name: str) -> str:
    return quote(name, safe="")


def _pipeline(api: httpx.Client, name: str) -> httpx.Response:
    definition = Pipeline("named", [WaitStep("Wait")]).definition()
    return api.post("/pipelines", json={"definition": {**definition, "name": name}})


def _step(api: httpx.Client, name: str) -> httpx.Response:
    definition = Pipeline("stepped", [WaitStep("Wait")]).definition()
    definition["steps"][0]["name"] = name
    return api.post("/pipelines", json={"definition": definition})


ACTION = {"kind": "webhook", "url": "http://127.0.0.1:9/x", "text": "x"}
FEATURES = [{"name": "id", "type": "int64"}, {"name": "ts", "type": "timestamp"}]

# Every kind of object a user names, created over REST with the name given.
KINDS: dict[str, Create] = {
    "experiment": lambda api, n: api.post("/experiments", json={"name": n}),
    "run": lambda api, n: api.post("/runs", json={"name": n}),
    "dataset": lambda api, n: api.post(f"/datasets/{_path(n)}/versions/from-uri", json={"uri": "x.parquet"}),
    "feature group": lambda api, n: api.post("/feature-groups", json={
        "name": n, "record_id": "id", "event_time": "ts", "features": FEATURES}),
    "feature": lambda api, n: api.post("/feature-groups", json={
        "name": "named", "record_id": "id", "event_time": "ts", "features": [*FEATURES, {"name": n, "type": "int64"}]}),
    "pipeline": _pipeline,
    "pipeline step": _step,
    "endpoint": lambda api, n: api.post("/endpoints", json={"name": n, "variants": [{"model": "m/1"}]}),
    "monitor": lambda api, n: api.post("/monitoring/monitors", json={"name": n, "baseline": "b"}),
    "baseline": lambda api, n: api.post(f"/monitoring/baselines/{_path(n)}", json={"dataset": "d"}),
    "alarm": lambda api, n: api.post("/monitoring/alarms",
                                     json={"name": n, "monitor": "m", "metric": "x", "threshold": 1}),
    "schedule": lambda api, n: api.post("/schedules", json={"name": n, "cron": "0 2 * * 1", "action": ACTION}),
    "rule": lambda api, n: api.post("/rules", json={"name": n, "event": "alarm.state_changed", "action": ACTION}),
    "hook": lambda api, n: api.post("/hooks", json={"name": n, "action": ACTION}),
    "user": lambda api, n: api.post("/users", json={"name": n, "roles": ["viewer"]}),
    "token label": lambda api, n: api.post("/tokens", json={"name": n}),
    "model group": lambda api, n: api.post("/model-groups", json={"name": n}),
    "alias": lambda api, n: api.put(f"/model-groups/named/aliases/{_path(n)}", json={"version": 1}),
    "experiment tag key": lambda api, n: api.post("/experiments", json={"name": "tagged", "tags": {n: "v"}}),
    "model group tag key": lambda api, n: api.post("/model-groups", json={"name": "tagged", "tags": {n: "v"}}),
    "dataset tag key": lambda api, n: api.post("/datasets/tagged/versions/from-uri",
                                               json={"uri": "x.parquet", "tags": {n: "v"}}),
}


def _run_scoped(api: httpx.Client, run_id: str) -> dict[str, Create]:
    return {
        "run tag key": lambda api, n: api.post(f"/runs/{run_id}/tags", json={"key": n, "value": "v"}),
        "param key": lambda api, n: api.post(f"/runs/{run_id}/params", json={"key": n, "value": "v"}),
        "metric key": lambda api, n: api.post(f"/runs/{run_id}/metrics", json={"key": n, "value": 1}),
        "artifact path": lambda api, n: api.put(f"/runs/{run_id}/artifacts/plots/{_path(n)}.png", content=b"png"),
    }


def _refused_for(answer: httpx.Response, code_point: str) -> bool:
    return answer.status_code == 400 and code_point in answer.json()["error"]["message"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_kind_of_name_may_hold_invisible_or_direction_changing_characters(api: httpx.Client, kind: str) -> None:
    answers = {point: KINDS[kind](api, name) for point, name in INVISIBLE.items()}
    assert all(_refused_for(answer, point) for point, answer in answers.items()), {
        point: (a.status_code, a.text[:200]) for point, a in answers.items()}


def test_keys_and_artifact_paths_of_a_run_refuse_them_too(api: httpx.Client, run_id: str) -> None:
    for kind, create in _run_scoped(api, run_id).items():
        for point, name in INVISIBLE.items():
            answer = create(api, name)
            assert _refused_for(answer, point), (kind, point, answer.status_code, answer.text[:200])
    assert api.get(f"/runs/{run_id}/artifacts", params={"recursive": True}).raise_for_status().json() == []


def test_a_trailing_newline_does_not_make_a_twin_alias_or_group(api: httpx.Client) -> None:
    assert api.post("/model-groups", json={"name": "fraud\n"}).status_code == 400
    assert api.put("/model-groups/fraud/aliases/prod%0A", json={"version": 1}).status_code == 400


NFC, NFD = "Caf\u00e9 churn", "Cafe\u0301 churn"


def test_an_experiment_twin_spelt_with_a_combining_accent_is_the_same_name(api: httpx.Client) -> None:
    assert unicodedata.normalize("NFC", NFD) == NFC and NFD != NFC
    made = api.post("/experiments", json={"name": NFD})
    assert made.status_code == 201, made.text
    assert made.json()["name"] == NFC  # stored in normal form C
    twin = api.post("/experiments", json={"name": NFC})
    assert twin.status_code == 409, twin.text
    found = api.get("/experiments/by-name", params={"name": NFD}).raise_for_status().json()
    assert found["id"] == made.json()["id"]


def test_artifact_paths_and_tag_keys_spelt_two_ways_are_one(api: httpx.Client, run_id: str) -> None:
    for spelling in (NFD, NFC):
        api.put(f"/runs/{run_id}/artifacts/{_path(spelling)}.txt", content=spelling.encode()).raise_for_status()
        api.post(f"/runs/{run_id}/tags", json={"key": spelling.replace(" ", "_"), "value": spelling}).raise_for_status()
    listed = api.get(f"/runs/{run_id}/artifacts", params={"recursive": True}).raise_for_status().json()
    assert [entry["path"] for entry in listed] == [f"{NFC}.txt"]
    tags = api.get(f"/runs/{run_id}").raise_for_status().json()["tags"]
    assert [key for key in tags if key.startswith("Caf")] == [NFC.replace(" ", "_")]
