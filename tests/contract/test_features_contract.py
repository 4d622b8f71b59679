"""The feature store contract: identical assertions for the embedded and the remote SDK."""

from __future__ import annotations

import datetime as dt
import uuid

import pandas as pd
import pytest

from slipway import Client, Conflict, InvalidInput, NotFound
from slipway.features import FeatureGroup

T = pd.Timestamp("2024-05-01 12:00", tz="UTC")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_groups_ingest_online_and_training_sets(client: Client) -> None:
    fs = client.features
    name = unique("customers")
    group = fs.create_group(name, {"customer": "string", "ts": "timestamp", "spend": "float64"},
                            record_id="customer", event_time="ts", description="spend", ttl_seconds=None)
    assert isinstance(group, FeatureGroup) and fs.get_group(name) == group
    assert name in {g.name for g in fs.list_groups()}

    rows = pd.DataFrame({"customer": ["a", "a", "b"], "ts": [T, T + pd.Timedelta(hours=2), T],
                         "spend": [1.0, 2.0, 5.0]})
    done = fs.ingest(name, rows)
    assert (done.rows, done.offline_files, done.online_records) == (3, 1, 2)
    fresh = fs.freshness(name)  # remote too, since the route is derived from the declaration
    assert (fresh.group, fresh.newest_event_date, fresh.offline_files, fresh.stale) == (name, T.date(), 1, None)
    assert fs.put_record(name, {"customer": "c", "ts": T.isoformat(), "spend": 7}).rows == 1
    assert fs.get_online_features(name, ["a", "zz", "c"]) == [
        {"id": "a", "spend": 2.0}, {"id": "zz", "spend": None}, {"id": "c", "spend": 7.0}]
    assert len(fs.read_offline(name)) == 4
    assert fs.materialize(name).records == 3

    entities = pd.DataFrame({"customer": ["a", "a", "b"], "event_time": [T + pd.Timedelta(hours=1), T, T]})
    frame = fs.training_set(entities, name, max_age=dt.timedelta(days=1))
    assert frame["spend"].tolist() == [1.0, 1.0, 5.0]
    between = fs.historical_features(name, T.to_pydatetime(), (T + pd.Timedelta(hours=3)).to_pydatetime())
    assert between["spend"].tolist() == [1.0, 5.0, 7.0, 2.0]
    registered = fs.register_training_set(unique("train"), entities, name)
    assert registered.created and registered.version.num_rows == 3

    grown = fs.update_group(name, features={"customer": "string", "ts": "timestamp", "spend": "float64",
                                            "visits": "int64"})
    assert grown.schema_version == 2 and len(fs.schema_history(name)) == 2


def test_the_same_errors(client: Client) -> None:
    fs = client.features
    name = unique("g")
    fs.create_group(name, {"k": "int64", "ts": "timestamp", "x": "float64"}, record_id="k", event_time="ts")
    with pytest.raises(NotFound):
        fs.get_group(unique("missing"))
    with pytest.raises(Conflict) as changed:
        fs.update_group(name, features={"k": "int64", "ts": "timestamp", "x": "string"})
    assert changed.value.field == "features.x"
    bad = pd.DataFrame({"k": [1, None], "ts": [T, T], "x": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="row 1") as err:
        fs.ingest(name, bad)
    assert err.value.field == "rows.k"
