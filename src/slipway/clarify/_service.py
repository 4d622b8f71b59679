"""The clarify service: bias and explainability reports, stored and attached to model or dataset versions.

A report is computed from a table (a DataFrame, a file, an upload) or from a registered dataset
version, with predictions from a registered model version when one is named. Its files go to the
artifact store and its row to ``clarify_reports``; the model version's page and model card list
the reports attached to it. Creating one publishes ``clarify_report.created``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from sqlalchemy import Row, insert, select

from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._operations import Api, Wire, composed
from slipway._principal import current_principal
from slipway._time import ms_to_datetime, now_ms
from slipway.clarify._bias import bias_sections, check_methods, count, with_predictions
from slipway.clarify._config import BiasConfig
from slipway.clarify._explain import explain, read_rows
from slipway.clarify._records import ClarifyReport, ReportKind
from slipway.clarify._report import ANALYSIS_FILE, Analysis
from slipway.clarify._tables import clarify_reports
from slipway.datasets import DataSource
from slipway.errors import InvalidInput, NotFound
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.models import LoadedModel
from slipway.security import Permission, requires
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

if TYPE_CHECKING:
    from slipway.datasets import DatasetService
    from slipway.registry import RegistryReader



# A report stored from elsewhere travels as its analysis.json document (slipway._operations).
AnalysisDocument = Annotated[
    Analysis | bytes,
    Wire(dict[str, Any], to_wire=lambda a: (a if isinstance(a, Analysis) else Analysis.read(a)).document,
         from_wire=lambda document: json.dumps(document).encode()),
]
_STORED = "A report computed elsewhere: its ``analysis.json``, attached to a model or dataset version."
MAX_LIST = 1000
api = Api("clarify")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class ClarifyService:
    """Bias and explainability reports over one metadata database and artifact store.

    Example:
        >>> clarify = client.clarify
        >>> report = clarify.run_bias({"label": "rings", "label_threshold": 10, "facet": "sex"}, "abalone.csv",
        ...                           model="abalone/3")
        >>> report.summary["post_training"]["sex=F/DPPL"]
        -0.12
        >>> clarify.read_report(report.id, "report.html")[:15]
        b'<!doctype html>'
    """

    def __init__(self, db: Database, artifacts: ArtifactStore, datasets: DatasetService | None = None,
                 registry: RegistryReader | None = None) -> None:
        self._db = db
        self._artifacts = artifacts
        self._datasets = datasets
        self._registry = registry

    # ------------------------------------------------------------------------------- creating

    @requires(Permission.WRITE)
    def run_bias(
        self, config: BiasConfig | dict[str, Any], data: DataSource | None = None, *, dataset: str | None = None,
        model: str | None = None, methods: str | Sequence[str] = "all", pre_training: bool = True,
        post_training: bool | None = None, format: str | None = None, trusted: bool | Iterable[str] = False,
    ) -> ClarifyReport:
        """Compute bias metrics and store them as a report.

        Args:
            config: the label, facet, group and predicted-label columns (a :class:`BiasConfig` or its fields).
            data: the table; or ``dataset``, a registered dataset version (``name`` or ``name:version``).
            model: a registered model version (``GROUP/VERSION``) whose predictions, made here on the
                data, are the predicted labels (in ``config.predicted_label``, ``prediction`` by
                default); the report is attached to that version.
            methods: ``"all"`` or metric names.
            pre_training: compute the metrics of the labels.
            post_training: compute the metrics of the predictions (default: when there are predictions).
            trusted: passed to the model's loading (embedded use only; a server never trusts a request).

        Raises:
            InvalidInput: for a bad configuration, missing column or neither/both of data and dataset.
            NotFound: for an unknown dataset or model version.
        """
        cfg = config if isinstance(config, BiasConfig) else BiasConfig.of(**config)
        check_methods(methods)
        loaded = self._load(model, trusted) if model is not None else None
        if loaded is not None:
            cfg = with_predictions(cfg)
        post = cfg.predicted_label is not None if post_training is None else post_training
        with self._source(data, dataset, format) as (source, source_format, described):
            counted = count(source, cfg, post_training=post, model=loaded, format=source_format)
        analysis = Analysis.of(bias=bias_sections(counted, pre_training=pre_training, post_training=post,
                                                  methods=methods))
        chosen = methods if isinstance(methods, str) else list(methods)
        settings = cfg.model_dump(mode="json", exclude_none=True) | {"methods": chosen, "rows": counted.rows,
                                                                     "dropped": counted.dropped}
        return self._store(ReportKind.BIAS, analysis, settings, model, described)

    @requires(Permission.WRITE)
    def run_explain(
        self, model: str, data: DataSource | None = None, *, dataset: str | None = None,
        features: Sequence[str] | None = None, method: str = "auto", max_rows: int | None = 1000,
        baseline_rows: int = 50, pdp_features: int = 3, format: str | None = None,
        trusted: bool | Iterable[str] = False,
    ) -> ClarifyReport:
        """Explain a registered model version on some data (SHAP and partial dependence) and store the report.

        Args:
            model: the model version (``GROUP/VERSION``); the report is attached to it.
            data: the rows to explain (other columns, such as the label, are ignored); or
                ``dataset``, a registered dataset version.
            features: the input columns, by default the model's signature.
            method, max_rows, baseline_rows, pdp_features: see :func:`~slipway.clarify.explain`.

        Raises:
            InvalidInput: for bad arguments or data the model cannot take.
            NotFound: for an unknown model or dataset version.
        """
        loaded = self._load(model, trusted)
        with self._source(data, dataset, format) as (source, source_format, described):
            frame = read_rows(source, format=source_format)
        explanation = explain(loaded, frame, features=features, method=method, max_rows=max_rows,
                              baseline_rows=baseline_rows, pdp_features=pdp_features)
        settings = explanation.settings(max_rows=max_rows, baseline_rows=baseline_rows)
        return self._store(ReportKind.EXPLAINABILITY, Analysis.of(explanation=explanation), settings, model, described)

    @api.post("/clarify/reports", status=201, body_doc=_STORED)
    @requires(Permission.WRITE)
    def store_report(self, analysis: AnalysisDocument, *, model: str | None = None, dataset: str | None = None,
                     config: dict[str, Any] | None = None) -> ClarifyReport:
        """Store a report computed elsewhere (``analysis.json`` bytes or an :class:`Analysis`), attached as named.

        Raises:
            InvalidInput: if it is not an ``analysis.json``.
            NotFound: for an unknown model or dataset version.
        """
        found = analysis if isinstance(analysis, Analysis) else Analysis.read(analysis)
        kind = ReportKind.EXPLAINABILITY if found.global_shap() and not found.bias_values() else ReportKind.BIAS
        if dataset is not None:
            self._dataset_version(dataset)
        return self._store(kind, found, config or {}, model, dataset)

    def _store(self, kind: ReportKind, analysis: Analysis, config: dict[str, Any], model: str | None,
               dataset: str | None) -> ClarifyReport:
        report_id, at, who = new_id(), now_ms(), current_principal().name
        model_id = self._model_version(model).id if model is not None else None
        dataset_version = self._dataset_version(dataset) if dataset is not None else None
        title = f"{'Bias' if kind is ReportKind.BIAS else 'Explainability'} report" + (f": {model}" if model else "")
        for name, content in analysis.files(title).items():
            self._artifacts.put_bytes(Owner(ObjectKind.CLARIFY_REPORT, report_id), name, content)
        node = NodeRef(ObjectKind.CLARIFY_REPORT, report_id, f"{kind} report")
        with self._db.write() as conn:
            conn.execute(insert(clarify_reports).values(
                id=report_id, kind=str(kind), model_version_id=model_id, model=model,
                dataset_version_id=dataset_version.id if dataset_version else None,
                dataset=dataset_version.ref if dataset_version else None, config=json.dumps(config),
                summary=json.dumps(analysis.summary()), created_by=who, created_at=at,
            ))
            record_change(conn, action="clarify_report.create", object_kind=ObjectKind.CLARIFY_REPORT,
                          object_id=report_id, event_type="clarify_report.created",
                          payload={"kind": str(kind), "model": model, "dataset": dataset})
            edges = []
            if model_id is not None:
                edges.append((NodeRef(ObjectKind.MODEL_VERSION, model_id, model), node, "consumed"))
            if dataset_version is not None:
                data_node = NodeRef(ObjectKind.DATASET_VERSION, dataset_version.id, dataset_version.ref)
                edges.append((data_node, node, "consumed"))
            record_edges(conn, edges)
        return self.get_report(report_id)

    # -------------------------------------------------------------------------------- reading

    @api.get("/clarify/reports/{report_id}")
    @requires(Permission.READ)
    def get_report(self, report_id: str) -> ClarifyReport:
        """One report.

        Raises:
            NotFound: if there is none with that id.
        """
        with self._db.read() as conn:
            row = conn.execute(select(clarify_reports).where(clarify_reports.c.id == report_id)).first()
        if row is None:
            raise NotFound(f"no clarify report {report_id!r}", field="report")
        return _report(row)

    @api.get("/clarify/reports")
    @requires(Permission.READ)
    def list_reports(self, *, model: str | None = None, dataset: str | None = None,
                     limit: int = 100) -> list[ClarifyReport]:
        """Reports, newest first; those of one model version (``GROUP/VERSION``) or dataset version when named.

        ``limit`` is brought within 1 to 1,000.
        """
        c = clarify_reports.c
        limit = max(1, min(limit, MAX_LIST))
        query = select(clarify_reports).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        if model is not None:
            query = query.where(c.model_version_id == self._model_version(model).id)
        if dataset is not None:
            query = query.where(c.dataset_version_id == self._dataset_version(dataset).id)
        with self._db.read() as conn:
            return [_report(r) for r in conn.execute(query)]

    @api.get("/clarify/reports/{report_id}/files")
    @requires(Permission.READ)
    def report_files(self, report_id: str) -> list[str]:
        """The names of a report's files."""
        self.get_report(report_id)
        return sorted(f.path for f in self._artifacts.list(Owner(ObjectKind.CLARIFY_REPORT, report_id), recursive=True)
                      if not f.is_dir)

    @requires(Permission.READ)
    def read_report(self, report_id: str, file_name: str = ANALYSIS_FILE) -> bytes:
        """One file of a report: ``analysis.json`` (default), ``report.html``, ``explanations_shap/out.csv``.

        Raises:
            NotFound: for an unknown report or file.
        """
        self.get_report(report_id)
        return self._artifacts.read_bytes(Owner(ObjectKind.CLARIFY_REPORT, report_id), file_name)

    @composed
    @requires(Permission.READ)
    def get_analysis(self, report_id: str) -> Analysis:
        """The report's ``analysis.json`` as an :class:`Analysis` (what monitors read their baseline from)."""
        return Analysis.read(self.read_report(report_id, ANALYSIS_FILE))

    # -------------------------------------------------------------------------------- helpers

    def _load(self, model: str, trusted: bool | Iterable[str]) -> LoadedModel:
        self._model_version(model)
        assert self._registry is not None
        return self._registry.load_model(f"models:/{model}", trusted=trusted)

    def _model_version(self, ref: str) -> Any:
        if self._registry is None:
            raise InvalidInput("the model registry is not available to this service", field="model")
        group, _, number = ref.rpartition("/")
        if not group or not number.isdigit():
            raise InvalidInput(f"model {ref!r} is not GROUP/VERSION", field="model")
        return self._registry.get_version(group, int(number))

    def _dataset_version(self, ref: str) -> Any:
        if self._datasets is None:
            raise InvalidInput("datasets are not available to this service", field="dataset")
        name, _, version = ref.partition(":")
        if version and not version.isdigit():
            raise InvalidInput(f"dataset {ref!r} is not NAME or NAME:VERSION", field="dataset")
        return self._datasets.get_version(name, int(version) if version else None)

    @contextlib.contextmanager
    def _source(self, data: DataSource | None, dataset: str | None,
                format: str | None) -> Iterator[tuple[DataSource, str | None, str | None]]:
        """What to read and its format, and the dataset version it is (its ``name:version``), if any."""
        if (data is None) == (dataset is None):
            raise InvalidInput("give either data or a dataset", field="data")
        if dataset is not None:
            found = self._dataset_version(dataset)
            assert self._datasets is not None
            with self._datasets.open(found.dataset_name, found.version) as stream:
                yield stream, "parquet", found.ref
            return
        assert data is not None
        yield data, format, None


def _report(row: Row[Any]) -> ClarifyReport:
    return ClarifyReport(id=row.id, kind=ReportKind(row.kind), model=row.model, dataset=row.dataset,
                         config=json.loads(row.config), summary=json.loads(row.summary), created_by=row.created_by,
                         created_at=ms_to_datetime(row.created_at))
