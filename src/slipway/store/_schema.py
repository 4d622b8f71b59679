"""The one SQLAlchemy ``MetaData`` every domain's tables register on.

Each domain declares its tables in its own ``_tables.py`` against :data:`metadata`; Alembic
migrations under ``slipway/store/migrations`` create them. Timestamps are integer milliseconds
since the epoch in UTC (portable between SQLite and PostgreSQL, and cheap to compare).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# An auto-incrementing 64-bit key: SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
