"""Lineage queries, embedded and against a real server: the same graphs either way."""

from __future__ import annotations

import uuid

import pandas as pd

from slipway import Client


def test_upstream_and_downstream_of_an_object(client: Client) -> None:
    name = f"lineage-{uuid.uuid4().hex[:8]}"
    version = client.datasets.register(name, pd.DataFrame({"x": [1, 2, 3]})).version
    run = client.tracking.create_run(name="reads-it")
    client.datasets.record_read(name, version.version, ("run", run.id))

    down = client.lineage.downstream("dataset_version", version.id)
    assert down.root == ("dataset_version", version.id)
    assert ("run", run.id) in {n.key for n in down.nodes}
    assert [(e.src, e.dst, e.relation) for e in down.edges] == [
        (("dataset_version", version.id), ("run", run.id), "consumed")
    ]
    up = client.lineage.upstream("run", run.id, depth=1)
    assert {n.key: n.name for n in up.nodes}[("dataset_version", version.id)] == f"{name}:1"
    assert client.lineage.upstream("run", run.id, depth=0).edges == ()
