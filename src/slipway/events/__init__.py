"""Domain events (the outbox) and the audit trail."""

from slipway.events._record import GENESIS_HASH, audit_hash, first_broken_audit_entry, record_change

__all__ = ["GENESIS_HASH", "audit_hash", "first_broken_audit_entry", "record_change"]
