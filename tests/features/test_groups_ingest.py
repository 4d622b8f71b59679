"""Feature groups, ingestion, online reads and materialization through the service."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.features import Feature, FeatureService, online_store_from_url
from slipway.features._online_sqlite import SqliteOnlineStore

SCHEMA = {"customer": "string", "ts": "timestamp", "spend": "float64", "visits": "int64", "vip": "bool"}
T = pd.Timestamp("2024-05-01 12:00", tz="UTC")


def create(features: FeatureService, name: str = "customers", **kwargs: object) -> None:
    features.create_group(name, SCHEMA, record_id="customer", event_time="ts", description="per customer",
                          tags={"team": "growth"}, **kwargs)  # type: ignore[arg-type]


def rows(*items: tuple[str, pd.Timestamp, float, int, bool]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=list(SCHEMA))


def test_create_get_list(features: FeatureService) -> None:
    create(features, ttl_seconds=3600)
    group = features.get_group("customers")
    assert (group.record_id, group.event_time, group.ttl_seconds, group.schema_version) == ("customer", "ts", 3600, 1)
    assert group.features[2] == Feature(name="spend", type="float64") and group.tags == {"team": "growth"}
    assert [f.name for f in group.value_features] == ["spend", "visits", "vip"]
    assert [g.name for g in features.list_groups()] == ["customers"]
    with pytest.raises(AlreadyExists):
        create(features)
    with pytest.raises(NotFound):
        features.get_group("nope")


@pytest.mark.parametrize(
    ("schema", "record_id", "event_time", "field"),
    [
        ({"id": "decimal", "ts": "timestamp"}, "id", "ts", "features.id"),
        ({"id": "float64", "ts": "timestamp"}, "id", "ts", "record_id"),
        ({"id": "string", "ts": "string"}, "id", "ts", "event_time"),
        ({"id": "string", "ts": "timestamp"}, "other", "ts", "record_id"),
        ({"id": "string", "ts": "timestamp", "bad name": "int64"}, "id", "ts", "features.bad name"),
    ],
)
def test_bad_definitions_name_the_field(features: FeatureService, schema: dict[str, str], record_id: str,
                                        event_time: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        features.create_group("g", schema, record_id=record_id, event_time=event_time)
    assert err.value.field == field


def test_schema_evolution_adds_but_never_changes(features: FeatureService) -> None:
    create(features)
    features.ingest("customers", rows(("c1", T, 1.0, 1, False)))
    grown = features.update_group("customers", features={**SCHEMA, "segment": "string"}, ttl_seconds=60)
    assert grown.schema_version == 2 and grown.features[-1].name == "segment" and grown.ttl_seconds == 60
    assert [len(s) for s in features.schema_history("customers")] == [5, 6]
    refused = "'visits' of group 'customers' is int64; changing it to float64 is refused"
    with pytest.raises(Conflict, match=refused) as err:
        features.update_group("customers", features={**SCHEMA, "segment": "string", "visits": "float64"})
    assert err.value.field == "features.visits"
    with pytest.raises(Conflict, match="removing features"):
        features.update_group("customers", features=SCHEMA)
    # Old files lack the new feature: it reads as missing there.
    features.ingest("customers", rows(("c2", T, 2.0, 2, True)).assign(segment="gold"))
    offline = features.read_offline("customers")
    assert offline["segment"].tolist()[0] is None or pd.isna(offline["segment"].tolist()[0])
    assert offline["segment"].tolist()[1] == "gold"


def test_rows_without_ids_or_times_are_refused_by_number(features: FeatureService) -> None:
    create(features)
    bad = rows(("c1", T, 1.0, 1, False), (None, T, 1.0, 1, False), ("c3", None, 1.0, 1, True),
               (None, T, 2.0, 2, True))
    with pytest.raises(InvalidInput, match=r"2 row\(s\) have no record id \('customer'\): row 1, 3") as err:
        features.ingest("customers", bad)
    assert err.value.details == {"rows": [1, 3]}
    with pytest.raises(InvalidInput, match="no event time .* row 1$"):
        features.ingest("customers", bad.dropna(subset=["customer"]).reset_index(drop=True))
    assert features.read_offline("customers").empty  # nothing was stored


def test_wrong_columns_and_types(features: FeatureService) -> None:
    create(features)
    with pytest.raises(InvalidInput, match="missing: \\['vip'\\]"):
        features.ingest("customers", rows(("c1", T, 1.0, 1, False)).drop(columns="vip"))
    with pytest.raises(InvalidInput, match="unknown: \\['extra'\\]"):
        features.ingest("customers", rows(("c1", T, 1.0, 1, False)).assign(extra=1))
    with pytest.raises(InvalidInput) as err:
        features.ingest("customers", rows(("c1", T, 1.0, 1, False)).assign(visits=1.5))
    assert err.value.field == "rows.visits"


def test_online_reads_latest_values_and_ttl(features: FeatureService) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("s")
    create(features, ttl_seconds=3600)
    result = features.ingest("customers", rows(("c1", now - pd.Timedelta(minutes=5), 1.0, 1, False),
                                               ("c1", now - pd.Timedelta(minutes=1), 2.0, 2, True),
                                               ("old", now - pd.Timedelta(days=2), 9.0, 9, False)))
    assert (result.rows, result.online_records) == (3, 2)
    assert result.offline_files == 2  # two event dates
    # Late data does not overwrite fresher online values, yet lands in history.
    features.ingest("customers", rows(("c1", now - pd.Timedelta(minutes=30), 0.5, 0, False)))
    got = features.get_online_features("customers", ["c1", "old", "unknown"])
    assert got[0] == {"id": "c1", "spend": 2.0, "visits": 2, "vip": True}
    assert got[1] == {"id": "old", "spend": None, "visits": None, "vip": None}  # expired
    assert got[2]["spend"] is None
    assert len(features.read_offline("customers")) == 4


def test_put_record_and_event_time_forms(features: FeatureService) -> None:
    create(features)
    features.put_record("customers", {"customer": "c9", "ts": "2024-05-01T12:00:00Z", "spend": 3,
                                      "visits": 1, "vip": False})
    features.ingest("customers", [{"customer": "c8", "ts": T.timestamp(), "spend": 1.5, "visits": 2, "vip": True}])
    offline = features.read_offline("customers")
    assert offline["ts"].tolist() == [T, T]
    assert features.get_online_features("customers", ["c9"])[0]["spend"] == 3.0


def test_materialize_fills_a_fresh_online_store(features: FeatureService, tmp_path) -> None:
    create(features)
    features.ingest("customers", rows(("c1", T, 1.0, 1, False), ("c1", T + pd.Timedelta(days=1), 2.0, 2, False),
                                      ("c2", T, 5.0, 5, True)), online=False)
    assert features.get_online_features("customers", ["c1"])[0]["spend"] is None
    done = features.materialize("customers", end=(T + pd.Timedelta(hours=1)).to_pydatetime())
    assert done.records == 2
    assert features.get_online_features("customers", ["c1"])[0]["spend"] == 1.0
    assert features.materialize("customers").records == 2  # c1 moves forward, c2 is rewritten as it was
    assert features.get_online_features("customers", ["c1", "c2"])[0]["spend"] == 2.0


def test_several_groups_at_once(features: FeatureService) -> None:
    create(features)
    features.create_group("scores", {"customer": "string", "ts": "timestamp", "score": "float64"},
                          record_id="customer", event_time="ts")
    features.ingest("customers", rows(("c1", T, 1.0, 1, False)))
    features.ingest("scores", pd.DataFrame({"customer": ["c1"], "ts": [T], "score": [0.9]}))
    assert features.get_online_features(["customers", "scores"], ["c1"]) == [
        {"id": "c1", "spend": 1.0, "visits": 1, "vip": False, "score": 0.9}]
    features.create_group("clash", {"customer": "string", "ts": "timestamp", "score": "float64"},
                          record_id="customer", event_time="ts")
    with pytest.raises(InvalidInput, match="clashes"):
        features.get_online_features(["scores", "clash"], ["c1"])


def test_training_set_lineage(features: FeatureService) -> None:
    create(features)
    features.ingest("customers", rows(("c1", T, 1.0, 1, False)))
    entities = pd.DataFrame({"customer": ["c1", "c1"], "event_time": [T - pd.Timedelta(hours=1), T]})
    registered = features.register_training_set("train", entities, "customers", max_age=dt.timedelta(days=1))
    frame = features._datasets.load("train")
    assert frame["spend"].isna().tolist() == [True, False]
    up = features._datasets.lineage("train", registered.version.version, direction="upstream")
    group = features.get_group("customers")
    assert any(e.src == ("feature_group", group.id) and e.relation == "derived_from" for e in up.edges)


def test_online_store_urls(tmp_path) -> None:
    store = online_store_from_url(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(store, SqliteOnlineStore)
    store.close()
    with pytest.raises(InvalidInput):
        online_store_from_url("memcached://x")


def test_freshness_reads_the_newest_event_date_and_latest_ingestion(features: FeatureService) -> None:
    create(features, ttl_seconds=3600)
    create(features, "no_ttl")
    empty = features.freshness("customers")
    assert (empty.newest_event_date, empty.last_ingested_at, empty.offline_files, empty.stale) == (None, None, 0, None)
    before = dt.datetime.now(dt.UTC)
    features.ingest("customers", rows(("a", T, 1.0, 1, True), ("b", T + pd.Timedelta(days=2), 2.0, 2, False)))
    fresh = features.freshness("customers")
    assert fresh.newest_event_date == dt.date(2024, 5, 3) and fresh.offline_files == 2
    assert fresh.last_ingested_at is not None and before - dt.timedelta(seconds=1) <= fresh.last_ingested_at
    assert fresh.stale is True  # May 2024 is long past a one-hour TTL
    features.ingest("no_ttl", rows(("a", pd.Timestamp.now(tz="UTC"), 1.0, 1, True)))
    assert features.freshness("no_ttl").stale is None
    with pytest.raises(NotFound):
        features.freshness("nope")
