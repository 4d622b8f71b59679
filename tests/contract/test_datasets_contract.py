"""The datasets contract: identical assertions for the embedded and the remote SDK."""

from __future__ import annotations

import uuid
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from slipway import Client, InvalidInput, NotFound
from slipway.datasets import Dataset, DatasetVersion


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def abalone_csv() -> Path:
    with resources.as_file(resources.files("slipway").joinpath("_data/abalone.csv")) as path:
        return Path(path)


def test_register_dedup_and_read_back(client: Client, abalone_csv: Path, tmp_path: Path) -> None:
    name = unique("abalone")
    first = client.datasets.register(name, abalone_csv, description="UCI", tags={"n": 1},
                                     produced_by=("run", "r-1"))
    assert first.created and isinstance(first.version, DatasetVersion) and first.version.version == 1
    assert first.version.num_rows == 4177 and first.version.tags == {"n": "1"}
    frame = pd.read_csv(abalone_csv)
    again = client.datasets.register(name, frame)
    assert not again.created and again.version.id == first.version.id
    second = client.datasets.register(name, frame.head(50)).version
    assert second.version == 2

    assert isinstance(client.datasets.get_dataset(name), Dataset)
    assert client.datasets.get_dataset(name).latest_version == 2
    assert name in {d.name for d in client.datasets.list_datasets()}
    assert [v.version for v in client.datasets.list_versions(name)] == [1, 2]
    assert client.datasets.get_version(name) == second
    assert client.datasets.get_version(name, 1) == first.version
    assert client.datasets.get_statistics(name, 1)["rings"].num_present == 4177
    pd.testing.assert_frame_equal(client.datasets.load(name, 2), frame.head(50))
    path = client.datasets.download(name, 1, tmp_path / "v1.parquet")
    assert pd.read_parquet(path).shape == (4177, 9)

    diff = client.datasets.diff(name, 1, 2)
    assert diff.num_rows == [4177, 50] and not diff.same_content
    client.datasets.record_read(name, 2, ("run", "r-2"))
    down = client.datasets.lineage(name, 2)
    assert ("run", "r-2") in {(n.kind, n.id) for n in down.nodes}
    up = client.datasets.lineage(name, 1, direction="upstream")
    assert any(e.src == ("run", "r-1") and e.relation == "produced" for e in up.edges)


def test_the_same_errors(client: Client) -> None:
    with pytest.raises(NotFound) as err:
        client.datasets.get_version(unique("missing"))
    assert err.value.field == "name"
    with pytest.raises(InvalidInput, match="never fetches http"):
        client.datasets.register(unique("web"), "https://example.com/x.csv")
    with pytest.raises(InvalidInput) as bad:
        client.datasets.register("bad name", pd.DataFrame({"a": [1]}))
    assert bad.value.field == "name"
