"""Domain events (the outbox) and the audit trail."""

from slipway.events._audit import AuditCheck, AuditEntry, audit_entries, check_audit_chain, holds_hash
from slipway.events._record import GENESIS_HASH, audit_hash, first_broken_audit_entry, record_change

__all__ = [
    "GENESIS_HASH",
    "AuditCheck",
    "AuditEntry",
    "audit_entries",
    "audit_hash",
    "check_audit_chain",
    "first_broken_audit_entry",
    "holds_hash",
    "record_change",
]
