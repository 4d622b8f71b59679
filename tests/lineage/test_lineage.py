from slipway.lineage import LineageService, NodeRef, record_edges
from slipway.store import Database


def test_upstream_and_downstream_to_a_depth(db: Database) -> None:
    raw, clean, run, model, endpoint = (
        NodeRef("dataset", "raw"),
        NodeRef("dataset", "clean"),
        NodeRef("run", "r1", "train"),
        NodeRef("model_version", "m/1"),
        NodeRef("endpoint", "prod"),
    )
    with db.write() as conn:
        record_edges(
            conn,
            [
                (raw, clean, "derived_from"),
                (clean, run, "consumed"),
                (run, model, "produced"),
                (model, endpoint, "deployed_as"),
            ],
        )
        record_edges(conn, [(run, model, "produced")])  # idempotent
    svc = LineageService(db)
    up = svc.upstream("endpoint", "prod", depth=10)
    assert {n.key for n in up.nodes} == {raw.key, clean.key, run.key, model.key, endpoint.key}
    assert len(up.edges) == 4
    near = svc.upstream("endpoint", "prod", depth=2)
    assert {n.key for n in near.nodes} == {endpoint.key, model.key, run.key}
    down = svc.downstream("dataset", "clean", depth=1)
    assert {n.key for n in down.nodes} == {clean.key, run.key}
    assert {n.name for n in down.nodes if n.kind == "run"} == {"train"}
    assert svc.downstream("dataset", "unknown").edges == ()
