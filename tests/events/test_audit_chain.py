import json

from sqlalchemy import delete, select, update

from slipway._principal import Principal, acting_as
from slipway.events import GENESIS_HASH, first_broken_audit_entry, record_change
from slipway.events._tables import audit_events
from slipway.store import Database


def _write(db: Database, n: int) -> list:
    with acting_as(Principal("alice", source="127.0.0.1")), db.write() as conn:
        for i in range(n):
            record_change(conn, action="thing.update", object_kind="thing", object_id=str(i), details={"n": i})
    with db.read() as conn:
        return conn.execute(select(audit_events).order_by(audit_events.c.seq)).all()


def test_entries_are_chained_and_attributed(db: Database) -> None:
    rows = _write(db, 3)
    assert [r.actor for r in rows] == ["alice"] * 3
    assert [r.source for r in rows] == ["127.0.0.1"] * 3
    assert rows[0].prev_hash == GENESIS_HASH and rows[1].prev_hash == rows[0].hash
    assert json.loads(rows[2].details) == {"n": 2}
    with db.read() as conn:
        assert first_broken_audit_entry(conn) is None


def test_an_edited_entry_breaks_the_chain(db: Database) -> None:
    rows = _write(db, 3)
    with db.write() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == rows[1].seq).values(actor="mallory"))
        assert first_broken_audit_entry(conn) == rows[1].seq


def test_a_deleted_entry_breaks_the_chain(db: Database) -> None:
    rows = _write(db, 3)
    with db.write() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == rows[1].seq))
        assert first_broken_audit_entry(conn) == rows[2].seq
