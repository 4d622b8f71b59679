"""Write the REST API's OpenAPI document to tests/server/openapi.json, the snapshot its test compares against.

The UI, the MLflow API's users and every existing client depend on the paths, status codes and JSON
shapes of ``/openapi.json``; ``tests/server/test_openapi.py`` fails when they change. When a change
is intended (a new operation, a new field), run this and commit the new snapshot with the change::

    PYTHONPATH=src .venv/bin/python scripts/openapi_snapshot.py

so that the diff of the snapshot shows reviewers exactly what the API's callers will see.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parents[1] / "tests" / "server" / "openapi.json"


def current_document() -> dict[str, Any]:
    """The OpenAPI document of an app over a throw-away home (the document does not depend on its data)."""
    from slipway import load_settings
    from slipway._backend import Backend
    from slipway.server import create_app

    with tempfile.TemporaryDirectory(prefix="slipway-openapi-") as home:
        backend = Backend(load_settings(home=home))
        try:
            document: dict[str, Any] = create_app(backend).openapi()
        finally:
            backend.close()
    return document


def main() -> int:
    SNAPSHOT.write_text(json.dumps(current_document(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
