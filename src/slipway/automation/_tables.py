"""Tables of the automation domain: schedules, event rules, incoming hooks, the runs of their actions,
retention policies and the garbage collector's sightings of stray blobs."""

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, false

from slipway.store import metadata

# Schedules, rules and hooks keep their creator's name and roles. A creator who is a user account
# (``created_account``) is looked up again at each action, which runs with the roles they hold then,
# and not at all once they are disabled or gone: an automation never does more than its creator may
# do now. A trusted local creator (embedded mode, --no-auth) acts with the roles recorded here.

# Cron-driven actions. ``next_run_at`` is the next occurrence to fire: a scheduler fires it by
# moving it forward with a compare-and-set, so two servers sharing the database fire it once.
automation_schedules = Table(
    "automation_schedules",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("cron", String(128), nullable=False),
    Column("action", Text, nullable=False),  # JSON: {"kind": ..., fields}
    Column("missed", String(16), nullable=False),  # skip | catch_up_one
    Column("paused", Boolean, nullable=False, default=False),
    Column("next_run_at", BigInteger, nullable=False),
    Column("last_run_at", BigInteger, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_roles", String(128), nullable=False),  # comma-separated: what its actions may do
    Column("created_account", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_automation_schedules_due", "paused", "next_run_at"),
)

# Event rules: an event type, filters on its fields, an action. ``scanned_seq`` is the outbox
# sequence number below which every event has been matched (see _dispatch.py).
automation_rules = Table(
    "automation_rules",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("filters", Text, nullable=False),  # JSON object: field -> value or list of values
    Column("action", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("scanned_seq", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_roles", String(128), nullable=False),  # comma-separated: what its actions may do
    Column("created_account", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", BigInteger, nullable=False),
)

# Incoming webhooks: POST /hooks/{name} signed with HMAC-SHA256 under ``secret`` runs ``action``.
automation_hooks = Table(
    "automation_hooks",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("secret", String(128), nullable=False),
    Column("action", Text, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_roles", String(128), nullable=False),  # comma-separated: what its actions may do
    Column("created_account", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", BigInteger, nullable=False),
)

# One row per action to run, keyed by what caused it ("rule:<rule>:<event>",
# "schedule:<schedule>:<time>", "hook:<hook>:<signature>"): the key makes a cause run its action
# once, and the row survives a crash between claiming and finishing.
automation_runs = Table(
    "automation_runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("source_kind", String(16), nullable=False),  # rule | schedule | hook
    Column("source_id", String(26), nullable=False),
    Column("source_name", String(64), nullable=False),
    # Who the action acts as: the creator of its rule, schedule or hook (see created_account above).
    Column("actor", String(256), nullable=False),
    Column("roles", String(128), nullable=False),
    Column("actor_account", Boolean, nullable=False, default=False, server_default=false()),
    Column("event_id", String(26), nullable=True),
    Column("event", Text, nullable=False),  # JSON: the fields the action's templates may use
    Column("action", Text, nullable=False),
    Column("status", String(16), nullable=False),  # Pending | Running | Succeeded | Failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(256), nullable=True),
    Column("claimed_until", BigInteger, nullable=True),
    Column("result", Text, nullable=True),  # JSON: what the action did, e.g. the execution it started
    Column("error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Index("ix_automation_runs_source", "source_id", "created_at"),
    Index("ix_automation_runs_status", "status"),
)

# Retention policies: one row per kind (pipeline_executions: keep_last; captures: max_age_days).
automation_retention = Table(
    "automation_retention",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Storage keys under blobs/ with no row in ``blobs`` (an upload whose record never came), and
# when the collector first saw each: removed only when seen again after the grace period, so an
# upload in flight is never taken for litter.
automation_stray_blobs = Table(
    "automation_stray_blobs",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("first_seen_at", BigInteger, nullable=False),
)
