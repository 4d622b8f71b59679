"""Concurrent registrations: one version per content, consecutive numbers, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from slipway.datasets import DatasetService


def test_racing_registrations(datasets: DatasetService) -> None:
    same = pd.DataFrame({"a": range(1000)})
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: datasets.register("race", same), range(4)))
    assert len({r.version.id for r in results}) == 1
    assert sum(r.created for r in results) == 1

    frames = [pd.DataFrame({"a": range(n)}) for n in (10, 20, 30, 40)]
    with ThreadPoolExecutor(4) as pool:
        made = list(pool.map(lambda f: datasets.register("race", f), frames))
    assert all(r.created for r in made)
    assert sorted(v.version for v in datasets.list_versions("race")) == [1, 2, 3, 4, 5]
