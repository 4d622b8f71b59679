"""The security domain's tables: users and their API tokens.

Roles are a comma-separated list on the user (a handful of known names, checked by the service);
tokens are stored only as the sha256 of the secret, which is shown once when it is created. A token's
``kind`` is ``api`` (made with ``slipway tokens create``) or ``session`` (made by logging in to the web
UI: short-lived, renewed only on request, revoked by logging out).
"""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table

from slipway.store import metadata

users = Table(
    "users",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("roles", String(128), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("user_id", String(26), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False, default="api", server_default="api"),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
    Index("ix_api_tokens_user", "user_id"),
)
