"""Write a new Alembic migration from the difference between the tables and the newest migration.

Usage: .venv/bin/python scripts/new_migration.py "what changed" 0002

It upgrades a scratch SQLite database to the newest migration, compares it with every table
declared in a ``_tables.py`` module of the package, and writes the difference. Read and adjust
the file it writes before committing.
"""

import importlib
import pkgutil
import sys
import tempfile

from alembic import command
from sqlalchemy import create_engine

import slipway
from slipway.store._migrate import _config
from slipway.store._schema import metadata


def import_all_tables() -> None:
    for mod in pkgutil.walk_packages(slipway.__path__, "slipway."):
        if mod.name.endswith("._tables"):
            importlib.import_module(mod.name)


def main(message: str, rev_id: str) -> None:
    import_all_tables()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/scratch.db")
        with engine.connect() as conn:
            cfg = _config(conn)
            cfg.attributes["target_metadata"] = metadata
            command.upgrade(cfg, "head")
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
            conn.commit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
