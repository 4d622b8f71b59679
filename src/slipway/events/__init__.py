"""Domain events (the outbox) and the audit trail."""

from slipway.events._audit import AuditCheck, AuditEntry, audit_entries, check_audit_chain, holds_hash
from slipway.events._outbox import OutboxEvent, events_after, last_event_seq
from slipway.events._record import GENESIS_HASH, audit_hash, first_broken_audit_entry, record_change

__all__ = [
    "GENESIS_HASH",
    "AuditCheck",
    "AuditEntry",
    "OutboxEvent",
    "audit_entries",
    "audit_hash",
    "check_audit_chain",
    "events_after",
    "first_broken_audit_entry",
    "holds_hash",
    "last_event_seq",
    "record_change",
]
