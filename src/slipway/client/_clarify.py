"""Remote mode of bias and explainability: :class:`~slipway.clarify.ClarifyService`'s methods over HTTP.

Data stays on the caller's machine: a report on a table or file is computed here, with the
service's own code and the model version downloaded from the server's registry, and only its
``analysis.json`` travels (stored with ``POST /clarify/reports``). A report on a registered
dataset version is computed by the server, which holds the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from slipway.clarify import ANALYSIS_FILE, Analysis, BiasConfig, ClarifyReport, bias_metrics, explain, read_rows
from slipway.client._http import HttpSession
from slipway.client._operations import parse as _parse
from slipway.datasets import DataSource
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.client._registry import RemoteRegistry

T = TypeVar("T")


def _q(text: str) -> str:
    return quote(text, safe="")


class RemoteClarify:
    """The clarify service of a ``slipway server``: the same methods, records and errors as
    :class:`~slipway.clarify.ClarifyService`, which documents each of them."""

    def __init__(self, http: HttpSession, registry: RemoteRegistry) -> None:
        self._http = http
        self._registry = registry

    def _call(self, kind: type[T], method: str, path: str, **request: Any) -> T:
        return _parse(kind, self._http.request(method, path, **request))

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
            return self._call(ClarifyReport, "POST", "/clarify/bias", json=body)
        if data is None:
            raise InvalidInput("give either data or a dataset", field="data")
        loaded = self._registry.load_model(f"models:/{model}", trusted=trusted) if model is not None else None
        found = bias_metrics(data, cfg, pre_training=pre_training, post_training=post_training, methods=methods,
                             format=format, model=loaded)
        settings = cfg.model_dump(mode="json", exclude_none=True) | {"methods": chosen}
        return self.store_report(Analysis.of(bias=found), model=model, dataset=dataset, config=settings)

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
            return self._call(ClarifyReport, "POST", "/clarify/explain", json=body)
        if data is None:
            raise InvalidInput("give either data or a dataset", field="data")
        loaded = self._registry.load_model(f"models:/{model}", trusted=trusted)
        explanation = explain(loaded, read_rows(data, format=format), features=features,
                              method=method, max_rows=max_rows, baseline_rows=baseline_rows,
                              pdp_features=pdp_features)
        settings = explanation.settings(max_rows=max_rows, baseline_rows=baseline_rows)
        return self.store_report(Analysis.of(explanation=explanation), model=model, dataset=dataset,
                                 config=settings)

    def store_report(self, analysis: Analysis | bytes, *, model: str | None = None, dataset: str | None = None,
                     config: dict[str, Any] | None = None) -> ClarifyReport:
        document = analysis.document if isinstance(analysis, Analysis) else Analysis.read(analysis).document
        body = {"analysis": document, "model": model, "dataset": dataset, "config": config}
        return self._call(ClarifyReport, "POST", "/clarify/reports", json=body)

    def get_report(self, report_id: str) -> ClarifyReport:
        return self._call(ClarifyReport, "GET", f"/clarify/reports/{_q(report_id)}")

    def list_reports(self, *, model: str | None = None, dataset: str | None = None,
                     limit: int = 100) -> list[ClarifyReport]:
        params = {k: v for k, v in (("model", model), ("dataset", dataset)) if v is not None} | {"limit": limit}
        return self._call(list[ClarifyReport], "GET", "/clarify/reports", params=params)

    def report_files(self, report_id: str) -> list[str]:
        return self._call(list[str], "GET", f"/clarify/reports/{_q(report_id)}/files")

    def read_report(self, report_id: str, file_name: str = ANALYSIS_FILE) -> bytes:
        path = "/".join(_q(part) for part in file_name.split("/"))
        return b"".join(self._http.stream(f"/clarify/reports/{_q(report_id)}/files/{path}"))

    def get_analysis(self, report_id: str) -> Analysis:
        return Analysis.read(self.read_report(report_id, ANALYSIS_FILE))


__all__ = ["RemoteClarify"]
