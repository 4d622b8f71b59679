"""Remote mode of bias and explainability: :class:`~slipway.clarify.ClarifyService`'s declared operations over HTTP.

Every declared operation is derived (:mod:`slipway.client._operations`). Written here by hand:
``run_bias`` and ``run_explain``, because data stays on the caller's machine: a report on a table
or file is computed here, with the service's own code and the model version downloaded from the
server's registry, and only its ``analysis.json`` travels (``store_report``); a report on a
registered dataset version is computed by the server, which holds the data. And ``read_report``,
whose answer is the file as stored, not JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slipway.clarify import (
    ANALYSIS_FILE,
    Analysis,
    BiasConfig,
    ClarifyReport,
    ClarifyService,
    bias_metrics,
    explain,
    read_rows,
)
from slipway.client._http import HttpSession
from slipway.client._operations import RemoteApi, parse, remote, url_path
from slipway.datasets import DataSource
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.client._protocols import ClarifyApi as Declared  # for mypy: the derived methods
    from slipway.client._protocols import RegistryApi
else:
    Declared = object


@remote(ClarifyService)
class RemoteClarify(RemoteApi, Declared):
    """The clarify service of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.clarify.ClarifyService`, which documents each of them."""

    def __init__(self, http: HttpSession, *, registry: RegistryApi) -> None:
        super().__init__(http)
        self._registry = registry

    def run_bias(
        self, config: BiasConfig | dict[str, Any], data: DataSource | None = None, *, dataset: str | None = None,
        model: str | None = None, methods: str | Sequence[str] = "all", pre_training: bool = True,
        post_training: bool | None = None, format: str | None = None, trusted: bool | Iterable[str] = False,
    ) -> ClarifyReport:
        cfg = config if isinstance(config, BiasConfig) else BiasConfig.of(**config)
        chosen = methods if isinstance(methods, str) else list(methods)
        if dataset is not None and data is None:
            body = {"config": cfg.model_dump(mode="json", exclude_none=True), "dataset": dataset, "model": model,
                    "methods": chosen, "pre_training": pre_training, "post_training": post_training}
            found: ClarifyReport = parse(ClarifyReport, self._http.request("POST", "/clarify/bias", json=body))
            return found
        if data is None:
            raise InvalidInput("give either data or a dataset", field="data")
        loaded = self._registry.load_model(f"models:/{model}", trusted=trusted) if model is not None else None
        metrics = bias_metrics(data, cfg, pre_training=pre_training, post_training=post_training, methods=methods,
                               format=format, model=loaded)
        settings = cfg.model_dump(mode="json", exclude_none=True) | {"methods": chosen}
        return self.store_report(Analysis.of(bias=metrics), model=model, dataset=dataset, config=settings)

    def run_explain(
        self, model: str, data: DataSource | None = None, *, dataset: str | None = None,
        features: Sequence[str] | None = None, method: str = "auto", max_rows: int | None = 1000,
        baseline_rows: int = 50, pdp_features: int = 3, format: str | None = None,
        trusted: bool | Iterable[str] = False,
    ) -> ClarifyReport:
        if dataset is not None and data is None:
            body = {"model": model, "dataset": dataset, "features": list(features) if features else None,
                    "method": method, "max_rows": max_rows, "baseline_rows": baseline_rows,
                    "pdp_features": pdp_features}
            made: ClarifyReport = parse(ClarifyReport, self._http.request("POST", "/clarify/explain", json=body))
            return made
        if data is None:
            raise InvalidInput("give either data or a dataset", field="data")
        loaded = self._registry.load_model(f"models:/{model}", trusted=trusted)
        explanation = explain(loaded, read_rows(data, format=format), features=features,
                              method=method, max_rows=max_rows, baseline_rows=baseline_rows,
                              pdp_features=pdp_features)
        settings = explanation.settings(max_rows=max_rows, baseline_rows=baseline_rows)
        return self.store_report(Analysis.of(explanation=explanation), model=model, dataset=dataset,
                                 config=settings)

    def read_report(self, report_id: str, file_name: str = ANALYSIS_FILE) -> bytes:
        path = f"/clarify/reports/{quote(report_id, safe='')}/files/{url_path(file_name)}"
        return b"".join(self._http.stream(path))
