"""The monitoring service: stored baselines, monitors, their executions and metrics, and alarms.

A run of a monitor is one transaction: the execution, its metrics, the new state of every alarm
on the monitor and the events of what changed (``monitor_execution.completed``,
``alarm.state_changed``) commit together; webhooks are posted once it has committed, so a
receiver never hears of a transition that was rolled back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from slipway._confinement import Confinement
from slipway._ids import new_id
from slipway._kinds import ObjectKind
from slipway._operations import Api, Wire
from slipway._principal import current_principal
from slipway._references import VersionRef, check_name, parse_model_version
from slipway._time import check_aware, datetime_to_ms, ms_to_datetime, now_ms
from slipway._urls import UrlPolicy
from slipway.clarify import read_rows
from slipway.datasets import DataSource
from slipway.errors import AlreadyExists, Conflict, InvalidInput, NotFound, SlipwayError
from slipway.events import record_change
from slipway.lineage import NodeRef, record_edges
from slipway.monitoring._alarms import alarm_state, check_rule, post_webhooks
from slipway.monitoring._baseline import CONSTRAINTS_FILE, STATISTICS_FILE, Baseline, statistics_of, table_of
from slipway.monitoring._capture import CURSOR_FILE, Span, Unread, captured_frames
from slipway.monitoring._check import CheckType, Violation, check_statistics
from slipway.monitoring._clarify import (
    Outcome,
    bias_settings,
    evaluate_attribution,
    evaluate_bias,
    joined,
    labelled,
)
from slipway.monitoring._quality import INFERENCE_ID, LABEL, PREDICTION, ProblemType, evaluate
from slipway.monitoring._records import (
    Alarm,
    AlarmState,
    BaselineVersion,
    ExecutionStatus,
    Monitor,
    MonitorExecution,
    MonitorKind,
)
from slipway.monitoring._report import VIOLATIONS_FILE, report_files
from slipway.monitoring._report_reader import ReportReader
from slipway.monitoring._rules import apply_rules, load_rule
from slipway.monitoring._tables import alarms, monitor_executions, monitor_metrics, monitoring_baselines, monitors
from slipway.security import Permission, requires
from slipway.statistics import DatasetStatistics, compute_statistics
from slipway.store import Database
from slipway.store.artifacts import ArtifactStore, Owner

if TYPE_CHECKING:
    from slipway.clarify import ClarifyService
    from slipway.datasets import DatasetService
    from slipway.registry import RegistryReader
    from slipway.serving import ServingService

QUALITY_FILE = "model_quality.json"
LOWER_IS_BETTER = frozenset({"mae", "mse", "rmse"})

MonitorKindName = Annotated[MonitorKind | str, Wire(str)]  # over HTTP, the kind's name
ProblemTypeName = Annotated[ProblemType | str, Wire(str)]
BaselineDocuments = Annotated[  # over HTTP, {"statistics": statistics.json, "constraints": constraints.json}
    Baseline,
    Wire(dict[str, Any], to_wire=lambda b: {"statistics": b.statistics.to_dict(),
                                            "constraints": b.constraints.model_dump(mode="json")},
         from_wire=lambda d: Baseline.from_documents(d["statistics"], d["constraints"])),
]
LATEST: dict[str, Any] = {"version": lambda client, args: client.get_baseline_version(args["name"]).version}
api = Api("monitoring")  # the REST routes and remote methods derive from these declarations (slipway._operations)


class MonitoringService(ReportReader):
    """Baselines, monitors, executions and alarms over one metadata database and artifact store.

    Example:
        >>> service = client.monitoring
        >>> service.create_baseline("abalone", "train.csv")
        >>> service.create_monitor("abalone-dq", baseline="abalone")
        >>> service.create_alarm("drift", monitor="abalone-dq", metric="violations.baseline_drift_check",
        ...                      threshold=0, webhooks=["http://127.0.0.1:9000/hook"])
        >>> service.run_monitor("abalone-dq", "today.csv").violation_count
        2
    """

    def __init__(
        self, db: Database, artifacts: ArtifactStore, datasets: DatasetService | None = None,
        serving: ServingService | None = None, registry: RegistryReader | None = None,
        urls: UrlPolicy | None = None, confinement: Confinement | None = None, clarify: ClarifyService | None = None,
    ) -> None:
        """``urls`` decides which hosts alarm webhooks may call (default: public hosts only);
        ``confinement`` which modules custom rules may come from (embedded: any; a server's
        ``pipeline_modules``, set by ``Backend.confine``); ``clarify`` keeps the reports bias and
        attribution-drift monitors compare with."""
        self.confinement = confinement or Confinement()
        self._db = db
        self._clarify = clarify
        self._urls = urls or UrlPolicy()
        self._artifacts = artifacts
        self._datasets = datasets
        self._serving = serving
        self._registry = registry

    # ------------------------------------------------------------------------------ baselines

    @requires(Permission.WRITE)
    def create_baseline(
        self, name: str, data: DataSource | Baseline | None = None, *, dataset: str | None = None,
        model: str | None = None, format: str | None = None,
    ) -> BaselineVersion:
        """Store a new version of baseline ``name``: from data, from a dataset version, or as given.

        Args:
            name: the baseline's name; each call adds version 1, 2, ...
            data: a DataFrame, Arrow table, file or folder to describe, or a ready (perhaps
                edited) :class:`Baseline`.
            dataset: instead of ``data``, a registered dataset version (``name`` or
                ``name:version``), whose stored statistics are used without reading it again;
                lineage records the baseline as derived from it.
            model: the model version (``GROUP/VERSION``) the baseline is for: lineage records the
                version as monitored by the baseline.
            format: the file format, when the extension does not tell.

        Raises:
            InvalidInput: for neither or both of ``data`` and ``dataset``, or a bad name.
            NotFound: for a dataset or model version that does not exist.
        """
        check_name(name)
        edges: list[tuple[NodeRef, str]] = []
        if model is not None:
            edges.append((self._model_node(model), "monitored_by"))
        if (data is None) == (dataset is None):
            raise InvalidInput("give either data or a dataset to build the baseline from", field="data")
        if dataset is not None:
            baseline, upstream, source = self._from_dataset(dataset)
            edges.append((upstream, "derived_from"))
        elif isinstance(data, Baseline):
            baseline, source = data, "given"
        else:
            assert data is not None
            baseline = Baseline.from_statistics(statistics_of(data, format=format))
            source = os.fspath(data) if isinstance(data, str | os.PathLike) else type(data).__name__
        baseline_id, who, at = new_id(), current_principal().name, now_ms()
        owner = Owner(ObjectKind.BASELINE, baseline_id)
        for file_name, content in baseline.files().items():
            self._artifacts.put_bytes(owner, file_name, content)
        try:
            with self._db.write() as conn:
                latest = conn.execute(select(monitoring_baselines.c.version)
                                      .where(monitoring_baselines.c.name == name)
                                      .order_by(monitoring_baselines.c.version.desc()).limit(1)).scalar()
                version = (latest or 0) + 1
                conn.execute(insert(monitoring_baselines).values(
                    id=baseline_id, name=name, version=version, item_count=baseline.statistics.item_count,
                    feature_count=len(baseline.constraints.features), source=str(source), created_by=who,
                    created_at=at,
                ))
                record_change(conn, action="monitoring_baseline.create", object_kind=ObjectKind.BASELINE,
                              object_id=baseline_id, event_type="monitoring_baseline.created",
                              payload={"name": name, "version": version})
                node = NodeRef(ObjectKind.BASELINE, baseline_id, f"{name}:{version}")
                record_edges(conn, [(other, node, relation) for other, relation in edges])
        except IntegrityError:
            raise Conflict(f"another version of baseline {name!r} was stored at the same time: try again",
                           field="name") from None
        return self.get_baseline_version(name, version)

    def _model_node(self, ref: str) -> NodeRef:
        if self._registry is None:
            raise InvalidInput("the model registry is not available to this service", field="model")
        found = self._registry.get_version(*parse_model_version(ref, "model"))
        return NodeRef(ObjectKind.MODEL_VERSION, found.id, ref)

    def _clarify_settings(
        self, kind: MonitorKind, report: str | None, model: str | None, bias_config: dict[str, Any] | None,
        tolerance: float, bounds: dict[str, float] | None, ndcg_threshold: float,
    ) -> dict[str, Any]:
        """The stored configuration of a bias or attribution-drift monitor, checked against its report."""
        if self._clarify is None:
            raise InvalidInput("bias and explainability reports are not available to this service", field="kind")
        if report is None:
            raise InvalidInput(f"a {kind} monitor needs the clarify report to compare with", field="report")
        if kind is MonitorKind.MODEL_BIAS:
            if not tolerance >= 0:
                raise InvalidInput("tolerance must be zero or more", field="tolerance")
            return {"report": report, **bias_settings(self._clarify, report, bias_config),
                    "tolerance": float(tolerance), "bounds": {str(k): float(v) for k, v in (bounds or {}).items()}}
        found = self._clarify.get_report(report)
        if not self._clarify.get_analysis(report).global_shap():
            raise InvalidInput(f"report {report} holds no feature attributions to compare with", field="report")
        if not 0 < ndcg_threshold <= 1:
            raise InvalidInput("ndcg_threshold must be in (0, 1]", field="ndcg_threshold")
        explained = model or found.model
        if explained is not None:
            self._model_node(explained)
        return {"report": report, "model": explained, "ndcg_threshold": float(ndcg_threshold),
                "features": found.config.get("features"), "max_rows": int(found.config.get("max_rows") or 1000),
                "baseline_rows": int(found.config.get("baseline_rows") or 50)}

    def _from_dataset(self, ref: str) -> tuple[Baseline, NodeRef, str]:
        if self._datasets is None:
            raise InvalidInput("datasets are not available to this service", field="dataset")
        name, version = VersionRef.parse(ref, "dataset")
        found = self._datasets.get_version(name, version)
        statistics = self._datasets.get_statistics(name, found.version)
        return Baseline.from_statistics(statistics), NodeRef(ObjectKind.DATASET_VERSION, found.id, found.ref), found.ref

    @api.get("/monitoring/baselines/{name}/latest", fixed={"version": None}, name="get_latest_baseline")
    @api.get("/monitoring/baselines/{name}/versions/{version}")
    @requires(Permission.READ)
    def get_baseline_version(self, name: str, version: int | None = None) -> BaselineVersion:
        """Version ``version`` of baseline ``name`` (the latest when None).

        Raises:
            NotFound: if there is no such baseline or version.
        """
        b = monitoring_baselines.c
        query = select(monitoring_baselines).where(b.name == name)
        query = query.where(b.version == version) if version is not None else query.order_by(b.version.desc()).limit(1)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no baseline {name!r}" + (f" version {version}" if version is not None else ""),
                           field="baseline")
        return _baseline_version(row)

    @api.get("/monitoring/baselines/{name}/versions/{version}/documents", fill=LATEST, name="get_baseline_documents")
    @requires(Permission.READ)
    def get_baseline(self, name: str, version: int | None = None) -> BaselineDocuments:
        """The statistics and constraints of a stored baseline version; over HTTP,
        ``{"statistics": statistics.json, "constraints": constraints.json}``."""
        found = self.get_baseline_version(name, version)
        owner = Owner(ObjectKind.BASELINE, found.id)
        return Baseline.from_files(self._artifacts.read_bytes(owner, STATISTICS_FILE),
                                   self._artifacts.read_bytes(owner, CONSTRAINTS_FILE))

    @api.get("/monitoring/baselines")
    @requires(Permission.READ)
    def list_baselines(self) -> list[BaselineVersion]:
        """Every version of every baseline, by name then newest first."""
        b = monitoring_baselines.c
        with self._db.read() as conn:
            rows = conn.execute(select(monitoring_baselines).order_by(b.name, b.version.desc())).all()
        return [_baseline_version(r) for r in rows]

    # ------------------------------------------------------------------------------- monitors

    @api.post("/monitoring/monitors", status=201)
    @requires(Permission.WRITE)
    def create_monitor(
        self, name: str, *, baseline: str | None = None, kind: MonitorKindName = MonitorKind.DATA_QUALITY,
        problem_type: ProblemTypeName | None = None, thresholds: dict[str, float] | None = None,
        endpoint: str | None = None, rules: Sequence[str] = (), report: str | None = None,
        model: str | None = None, bias_config: dict[str, Any] | None = None, tolerance: float = 0.1,
        bounds: dict[str, float] | None = None, ndcg_threshold: float = 0.90,
    ) -> Monitor:
        """Create a monitor. Custom rules are code the service will import: on a server they must come
        from its ``pipeline_modules``.

        Args:
            baseline: for data quality, ``name`` (its latest version, fixed now) or ``name:version``.
            endpoint: an endpoint whose captured traffic runs read when given no data (and, for
                model quality, whose uploaded ground truth gives the labels).
            rules: for data quality, custom rules as ``module:function`` (see :mod:`._rules`),
                loaded now to check they exist, and at every run.
            kind: ``DataQuality``, ``ModelQuality``, ``ModelBias`` (bias drift) or
                ``ModelExplainability`` (feature-attribution drift).
            problem_type: for model quality, the kind of predictions.
            thresholds: for model quality, the bound per metric (see :class:`Monitor`).
            report: for bias and attribution drift, the clarify report (id) to compare with: a bias
                report with post-training metrics, or an explainability report.
            model: for attribution drift of data given directly, the model version explained
                (default: the report's); with an endpoint, its current model is explained.
            bias_config: for bias drift, the columns, when the report does not keep them.
            tolerance, bounds: for bias drift (see :func:`slipway.clarify.bias_findings`).
            ndcg_threshold: for attribution drift, the least nDCG of the feature ranking.

        Raises:
            InvalidInput: for a missing or inapplicable argument.
            NotFound: for a baseline that does not exist.
            AlreadyExists: if a monitor has that name.
            PermissionDenied: for a rule from a module the confinement does not allow (checked first).
        """
        check_name(name)
        for i, ref in enumerate(rules):
            self.confinement.modules.check(ref, field=f"rules.{i}")
        kind = _enum(MonitorKind, kind, "kind")
        baseline_id = None
        config: dict[str, Any] = {}
        if endpoint is not None:
            self._endpoint_id(endpoint)
            config["endpoint"] = endpoint
        if kind is MonitorKind.DATA_QUALITY:
            if baseline is None:
                raise InvalidInput("a data-quality monitor needs a baseline", field="baseline")
            baseline_id = self.get_baseline_version(*VersionRef.parse(baseline, "baseline")).id
            for i, ref in enumerate(rules):
                load_rule(ref, self.confinement.modules, field=f"rules.{i}")  # it exists, and is a function
            if rules:
                config["rules"] = list(rules)
        elif kind is MonitorKind.MODEL_QUALITY:
            if problem_type is None:
                raise InvalidInput("a model-quality monitor needs a problem type", field="problem_type")
            config |= {"problem_type": str(_enum(ProblemType, problem_type, "problem_type")),
                       "thresholds": {str(k): float(v) for k, v in (thresholds or {}).items()}}
        else:
            config |= self._clarify_settings(MonitorKind(kind), report, model, bias_config, tolerance, bounds,
                                             ndcg_threshold)
        monitor_id = new_id()
        try:
            with self._db.write() as conn:
                conn.execute(insert(monitors).values(
                    id=monitor_id, name=name, kind=str(kind), baseline_id=baseline_id, config=json.dumps(config),
                    created_by=current_principal().name, created_at=now_ms(),
                ))
                record_change(conn, action="monitor.create", object_kind=ObjectKind.MONITOR, object_id=monitor_id,
                              event_type="monitor.created", payload={"name": name, "kind": str(kind)})
                if baseline_id is not None:
                    record_edges(conn, [(NodeRef(ObjectKind.BASELINE, baseline_id),
                                         NodeRef(ObjectKind.MONITOR, monitor_id, name), "consumed")])
                if "report" in config:
                    record_edges(conn, [(NodeRef(ObjectKind.CLARIFY_REPORT, config["report"]),
                                         NodeRef(ObjectKind.MONITOR, monitor_id, name), "consumed")])
        except IntegrityError:
            raise AlreadyExists(f"monitor {name!r} already exists", field="name") from None
        return self.get_monitor(name)

    @api.get("/monitoring/monitors/{name}")
    @requires(Permission.READ)
    def get_monitor(self, name: str) -> Monitor:
        """The monitor called ``name``.

        Raises:
            NotFound: if there is none.
        """
        with self._db.read() as conn:
            row = conn.execute(_monitors().where(monitors.c.name == name)).first()
        if row is None:
            raise NotFound(f"no monitor {name!r}", field="monitor")
        return _monitor(row)

    @api.get("/monitoring/monitors")
    @requires(Permission.READ)
    def list_monitors(self) -> list[Monitor]:
        with self._db.read() as conn:
            return [_monitor(r) for r in conn.execute(_monitors().order_by(monitors.c.name))]

    # ----------------------------------------------------------------------------- executions

    @requires(Permission.WRITE)
    def run_monitor(
        self, name: str, data: DataSource | DatasetStatistics | None = None, *, labels: DataSource | None = None,
        start: dt.datetime | None = None, end: dt.datetime | None = None, format: str | None = None,
    ) -> MonitorExecution:
        """Run a monitor once and record the execution, its report and metrics.

        For data quality, ``data`` is any table to check against the baseline, or its statistics
        (what a remote caller computes locally and sends). For model quality, ``data`` holds
        ``inference_id`` and ``prediction`` (and ``probability`` for ROC AUC), ``labels`` holds
        ``inference_id`` and ``label``. Without ``data``, a monitor
        of an endpoint reads the traffic captured in ``[start, end)`` and, for model quality
        without ``labels``, the endpoint's uploaded ground truth. Given neither ``start`` nor
        ``end``, it reads the traffic stored since its previous run without a window (all of it
        the first time), as a scheduled monitor does: each captured file is read by one such run.

        Input the monitor cannot use (a missing column, an unreadable file) gives a ``Failed``
        execution with the reason, not an exception: a scheduled run has nobody to raise to.
        Afterwards every alarm of the monitor is re-evaluated.

        Raises:
            NotFound: if the monitor does not exist.
        """
        monitor = self.get_monitor(name)
        started, execution_id = now_ms(), new_id()
        clock = time.perf_counter()
        unread = self._unread(monitor) if data is None and start is None and end is None else None
        given = _Input(data, labels, _aware(start, "start"), _aware(end, "end"), format, unread=unread)
        try:
            files, metrics, violations, rows = self._evaluate(monitor, given)
            status = ExecutionStatus.COMPLETED_WITH_VIOLATIONS if violations else ExecutionStatus.COMPLETED
            message = None
        except (SlipwayError, ValueError, OSError, pa.ArrowException) as exc:
            files, metrics, violations, rows = {}, {}, 0, 0
            # Every reader of the monitor sees the reason: it names no path of a server's folders.
            status, message = ExecutionStatus.FAILED, self.confinement.paths.text(getattr(exc, "message", str(exc)))
        if unread is not None:  # what the next run without a window starts from
            files = {**files, CURSOR_FILE: unread.document(ms_to_datetime(started))}
        owner = Owner(ObjectKind.MONITOR_EXECUTION, execution_id)
        for file_name, content in files.items():
            self._artifacts.put_bytes(owner, file_name, content)
        ended = started + round((time.perf_counter() - clock) * 1000)
        with self._db.write() as conn:
            conn.execute(insert(monitor_executions).values(
                id=execution_id, monitor_id=monitor.id, status=str(status), item_count=rows,
                violation_count=violations, message=message, started_at=started, ended_at=ended,
                **given.window(),
            ))
            if metrics:
                conn.execute(insert(monitor_metrics), [
                    {"execution_id": execution_id, "key": key, "value": value} for key, value in metrics.items()
                ])
            record_change(conn, action="monitor.run", object_kind=ObjectKind.MONITOR_EXECUTION, object_id=execution_id,
                          event_type="monitor_execution.completed",
                          payload={"monitor": monitor.name, "execution": execution_id, "status": str(status),
                                   "violations": violations})
            transitions = self._evaluate_alarms(conn, monitor)
        for alarm, payload in transitions:
            post_webhooks(alarm.webhooks, payload, self._urls)
        return self.get_execution(execution_id)

    def _unread(self, monitor: Monitor) -> Unread | None:
        """Where a run without a window starts: after the monitor's previous such run (the latest
        execution that left a cursor), or at the beginning of the endpoint's traffic."""
        if monitor.endpoint is None:
            return None
        e = monitor_executions.c
        with self._db.read() as conn:
            recent = conn.execute(select(e.id, e.started_at).where(e.monitor_id == monitor.id)
                                  .order_by(e.started_at.desc(), e.id.desc()).limit(100)).all()
        for row in recent:
            owner = Owner(ObjectKind.MONITOR_EXECUTION, row.id)
            if any(info.path == CURSOR_FILE for info in self._artifacts.list(owner)):
                return Unread.since(ms_to_datetime(row.started_at), self._artifacts.read_bytes(owner, CURSOR_FILE))
        return Unread()

    def _endpoint_id(self, endpoint: str) -> str:
        if self._serving is None:
            raise InvalidInput("endpoints are not available to this service", field="endpoint")
        return self._serving.get_endpoint(endpoint).id

    def _captured(self, monitor: Monitor, given: _Input) -> Iterator[pd.DataFrame]:
        if monitor.endpoint is None:
            raise InvalidInput(f"monitor {monitor.name!r} watches no endpoint: give the data to check", field="data")
        return captured_frames(self._artifacts, self._endpoint_id(monitor.endpoint), given.start, given.end,
                               given.span, given.unread)

    def _current_statistics(self, monitor: Monitor, given: _Input) -> DatasetStatistics:
        if isinstance(given.data, DatasetStatistics):
            return given.data
        if given.data is not None:
            return statistics_of(given.data, format=given.format)
        frames = self._captured(monitor, given)
        found = compute_statistics(pa.RecordBatch.from_pandas(f.drop(columns=[INFERENCE_ID, PREDICTION]),
                                                              preserve_index=False) for f in frames)
        if not found.item_count:
            raise InvalidInput(f"endpoint {monitor.endpoint!r} captured no traffic in the window", field="start")
        return found

    def _quality_inputs(self, monitor: Monitor, given: _Input) -> tuple[pd.DataFrame, pd.DataFrame]:
        if isinstance(given.data, DatasetStatistics):
            raise InvalidInput("a model-quality run needs predictions, not statistics", field="data")
        if given.data is not None:
            predictions = table_of(given.data, given.format)
        else:
            frames = [f[[INFERENCE_ID, PREDICTION]] for f in self._captured(monitor, given)]
            predictions = pd.concat(frames) if frames else pd.DataFrame({INFERENCE_ID: [], PREDICTION: []})
        if given.labels is not None:
            return predictions, table_of(given.labels, given.format)
        if monitor.endpoint is None or self._serving is None:
            raise InvalidInput("a model-quality run needs labels", field="labels")
        truth = self._serving.get_ground_truth(monitor.endpoint, predictions[INFERENCE_ID].astype(str).tolist())
        return predictions, pd.DataFrame({INFERENCE_ID: [t.inference_id for t in truth],
                                          LABEL: [t.label for t in truth]})

    def _evaluate(self, monitor: Monitor, given: _Input) -> tuple[dict[str, bytes], dict[str, float], int, int]:
        """Run the check: (report files, metrics, violation count, rows looked at)."""
        if monitor.kind is MonitorKind.DATA_QUALITY:
            assert monitor.baseline is not None
            result = check_statistics(self._current_statistics(monitor, given),
                                      self.get_baseline(*VersionRef.parse(monitor.baseline, "baseline")))
            if monitor.rules:
                custom = apply_rules(monitor.rules, result.statistics, result.baseline, self.confinement.modules)
                result = dataclasses.replace(result, violations=result.violations + custom)
            metrics = {f"violations.{kind}": float(result.violation_counts().get(kind, 0)) for kind in CheckType}
            emitting = {f.name for f in result.baseline.constraints.features
                        if f.monitoring_config.emit_metrics == "Enabled"}
            metrics |= {f"drift.{d.feature_name}": d.score for d in result.drift
                        if d.feature_name in emitting and not math.isnan(d.score)}
            metrics["violations.total"] = float(len(result.violations))
            return report_files(result), metrics, len(result.violations), result.statistics.item_count
        if monitor.kind is MonitorKind.MODEL_BIAS:
            return self._bias_drift(monitor, given)
        if monitor.kind is MonitorKind.MODEL_EXPLAINABILITY:
            return self._attribution_drift(monitor, given)
        assert monitor.problem_type is not None
        quality = evaluate(*self._quality_inputs(monitor, given), ProblemType(monitor.problem_type))
        violations = [
            Violation(metric, CheckType.MODEL_QUALITY, f"{metric} {quality.metrics[metric]:.4g} is "
                      f"{'above' if metric in LOWER_IS_BETTER else 'below'} its bound {bound:g}")
            for metric, bound in monitor.thresholds.items()
            if metric in quality.metrics and _breaks(metric, quality.metrics[metric], bound)
        ]
        files = {QUALITY_FILE: json.dumps(quality.to_dict(), indent=1).encode(),
                 VIOLATIONS_FILE: json.dumps({"violations": [v.to_dict() for v in violations]}, indent=1).encode()}
        metrics = {k: v for k, v in quality.metrics.items() if not math.isnan(v)}  # undefined is no datapoint
        metrics["violations.total"] = float(len(violations))
        return files, metrics, len(violations), quality.matched

    def _bias_drift(self, monitor: Monitor, given: _Input) -> Outcome:
        assert self._clarify is not None and monitor.report is not None and monitor.bias_config is not None
        config = self._config(monitor)
        label = monitor.bias_config["label"]
        if isinstance(given.data, DatasetStatistics):
            raise InvalidInput("a bias-drift run needs predictions and labels, not statistics", field="data")
        frames: Iterable[pd.DataFrame]
        if given.data is not None:
            labels = table_of(given.labels, given.format) if given.labels is not None else None
            frames = [joined(table_of(given.data, given.format), labels, label)]
        elif given.labels is not None:
            labels = table_of(given.labels, given.format)
            frames = (joined(f, labels, label).drop(columns=[INFERENCE_ID]) for f in self._captured(monitor, given))
        else:
            assert monitor.endpoint is not None and self._serving is not None
            serving, endpoint = self._serving, monitor.endpoint

            def truth(ids: list[str]) -> dict[str, Any]:
                return {t.inference_id: t.label for t in serving.get_ground_truth(endpoint, ids)}
            frames = labelled(self._captured(monitor, given), label, truth)
        return evaluate_bias(config, self._clarify.get_analysis(monitor.report), frames)

    def _attribution_drift(self, monitor: Monitor, given: _Input) -> Outcome:
        assert self._clarify is not None and monitor.report is not None
        if isinstance(given.data, DatasetStatistics):
            raise InvalidInput("an attribution-drift run needs rows, not statistics", field="data")
        if given.data is not None:
            frame = read_rows(table_of(given.data, given.format))
        else:
            captured = [f.drop(columns=[INFERENCE_ID, PREDICTION]) for f in self._captured(monitor, given)]
            if not captured:
                raise InvalidInput(f"endpoint {monitor.endpoint!r} captured no traffic in the window", field="start")
            frame = pd.concat(captured, ignore_index=True)
        model = self._explained_model(monitor)
        if self._registry is None:
            raise InvalidInput("the model registry is not available to this service", field="model")
        loaded = self._registry.load_model(f"models:/{model}")
        return evaluate_attribution(self._config(monitor), self._clarify.get_analysis(monitor.report), loaded, frame)

    def _explained_model(self, monitor: Monitor) -> str:
        """The endpoint's current model (its live variant with the most traffic), else the monitor's."""
        if monitor.endpoint is not None and self._serving is not None:
            live = [v for v in self._serving.get_endpoint(monitor.endpoint).variants if not v.shadow]
            if live:
                return max(live, key=lambda v: v.weight).model
        if monitor.model is None:
            raise InvalidInput(f"monitor {monitor.name!r} has no model to explain", field="model")
        return monitor.model

    def _config(self, monitor: Monitor) -> dict[str, Any]:
        with self._db.read() as conn:
            config: dict[str, Any] = json.loads(conn.execute(select(monitors.c.config)
                                                             .where(monitors.c.id == monitor.id)).scalar_one())
        return config

    @api.get("/monitoring/executions/{execution_id}")
    @requires(Permission.READ)
    def get_execution(self, execution_id: str) -> MonitorExecution:
        """One execution, with its metrics.

        Raises:
            NotFound: if there is none with that id.
        """
        with self._db.read() as conn:
            row = conn.execute(_executions().where(monitor_executions.c.id == execution_id)).first()
            if row is None:
                raise NotFound(f"no monitor execution {execution_id!r}", field="execution")
            return _execution(row, _metrics(conn, [execution_id]).get(execution_id, {}))

    @api.get("/monitoring/monitors/{name}/executions")
    @requires(Permission.READ)
    def list_executions(self, name: str, limit: int = 20) -> list[MonitorExecution]:
        """The monitor's latest executions, newest first."""
        monitor = self.get_monitor(name)
        e = monitor_executions.c
        with self._db.read() as conn:
            rows = conn.execute(_executions().where(e.monitor_id == monitor.id)
                                .order_by(e.started_at.desc(), e.id.desc()).limit(limit)).all()
            metrics = _metrics(conn, [r.id for r in rows])
        return [_execution(r, metrics.get(r.id, {})) for r in rows]

    @requires(Permission.READ)
    def latest_executions(self) -> list[MonitorExecution]:
        """Each monitor's latest execution that did not fail, with its metrics: what a metrics
        scrape shows (a failed run has no metrics, and would blank the gauges until the next)."""
        e = monitor_executions.c
        latest = (select(e.monitor_id, func.max(e.started_at).label("at"))
                  .where(e.status != str(ExecutionStatus.FAILED)).group_by(e.monitor_id).subquery())
        query = _executions().join(latest, (latest.c.monitor_id == e.monitor_id) & (latest.c.at == e.started_at))
        with self._db.read() as conn:
            rows = {r.monitor_id: r for r in conn.execute(query.order_by(e.id))}.values()  # one per monitor
            metrics = _metrics(conn, [r.id for r in rows])
        return [_execution(r, metrics.get(r.id, {})) for r in rows]

    @api.get("/monitoring/executions/{execution_id}/files")
    @requires(Permission.READ)
    def report_files(self, execution_id: str) -> list[str]:
        """The names of an execution's report files."""
        self.get_execution(execution_id)
        return [f.path for f in self._artifacts.list(Owner(ObjectKind.MONITOR_EXECUTION, execution_id)) if not f.is_dir]

    @requires(Permission.READ)
    def read_report(self, execution_id: str, file_name: str) -> bytes:
        """One report file of an execution, e.g. ``report.html``.

        Raises:
            NotFound: for an unknown execution or file.
        """
        self.get_execution(execution_id)
        return self._artifacts.read_bytes(Owner(ObjectKind.MONITOR_EXECUTION, execution_id), file_name)

    # --------------------------------------------------------------------------------- alarms

    @api.post("/monitoring/alarms", status=201)
    @requires(Permission.WRITE)
    def create_alarm(
        self, name: str, *, monitor: str, metric: str, threshold: float, comparison: str = ">",
        evaluation_periods: int = 1, datapoints_to_alarm: int | None = None, webhooks: Sequence[str] = (),
    ) -> Alarm:
        """An alarm on ``metric`` of ``monitor``'s executions; it starts in ``INSUFFICIENT_DATA``.

        Args:
            metric: e.g. ``drift.length``, ``violations.total``, ``violations.baseline_drift_check``, ``mae``.
            comparison: ``>``, ``>=``, ``<`` or ``<=``: how a value crosses ``threshold``.
            evaluation_periods: how many latest executions are looked at.
            datapoints_to_alarm: how many of those must cross (default: all of them).
            webhooks: URLs that get a JSON POST on every change of state.

        Raises:
            InvalidInput: for an impossible rule (``field`` names it).
            NotFound: for an unknown monitor.
            AlreadyExists: if an alarm has that name.
        """
        check_name(name)
        datapoints = evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm
        check_rule(comparison, evaluation_periods, datapoints, webhooks, self._urls)
        target = self.get_monitor(monitor)
        alarm_id, at, who = new_id(), now_ms(), current_principal().name
        try:
            with self._db.write() as conn:
                conn.execute(insert(alarms).values(
                    id=alarm_id, name=name, monitor_id=target.id, metric=metric, comparison=comparison,
                    threshold=float(threshold), evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
                    webhooks=json.dumps(list(webhooks)), state=str(AlarmState.INSUFFICIENT_DATA),
                    state_reason="not evaluated yet", state_changed_at=at, created_by=who, created_at=at,
                ))
                record_change(conn, action="alarm.create", object_kind=ObjectKind.ALARM, object_id=alarm_id,
                              payload={"name": name, "monitor": monitor, "metric": metric})
        except IntegrityError:
            raise AlreadyExists(f"alarm {name!r} already exists", field="name") from None
        return self.get_alarm(name)

    @api.get("/monitoring/alarms/{name}")
    @requires(Permission.READ)
    def get_alarm(self, name: str) -> Alarm:
        """The alarm called ``name``.

        Raises:
            NotFound: if there is none.
        """
        with self._db.read() as conn:
            row = conn.execute(_alarms().where(alarms.c.name == name)).first()
        if row is None:
            raise NotFound(f"no alarm {name!r}", field="alarm")
        return _alarm(row)

    @api.get("/monitoring/alarms")
    @requires(Permission.READ)
    def list_alarms(self, monitor: str | None = None) -> list[Alarm]:
        """Every alarm (of one monitor, when named), by name."""
        query = _alarms().order_by(alarms.c.name)
        if monitor is not None:
            query = query.where(alarms.c.monitor_id == self.get_monitor(monitor).id)
        with self._db.read() as conn:
            return [_alarm(r) for r in conn.execute(query)]

    def _evaluate_alarms(self, conn: Connection, monitor: Monitor) -> list[tuple[Alarm, dict[str, Any]]]:
        """Re-evaluate the monitor's alarms inside the run's transaction; the transitions and their payloads."""
        e = monitor_executions.c
        transitions = []
        for row in conn.execute(_alarms().where(alarms.c.monitor_id == monitor.id)).all():
            alarm = _alarm(row)
            latest = conn.execute(select(e.id).where(e.monitor_id == monitor.id)
                                  .order_by(e.started_at.desc(), e.id.desc()).limit(alarm.evaluation_periods)).scalars()
            ids = list(latest)
            values = _metrics(conn, ids)
            state, reason = alarm_state([values.get(i, {}).get(alarm.metric) for i in ids], alarm.comparison,
                                        alarm.threshold, alarm.evaluation_periods, alarm.datapoints_to_alarm)
            if state is alarm.state:
                continue
            at = now_ms()
            conn.execute(update(alarms).where(alarms.c.id == alarm.id)
                         .values(state=str(state), state_reason=reason, state_changed_at=at))
            payload = {"alarm": alarm.name, "monitor": monitor.name, "metric": alarm.metric,
                       "old_state": str(alarm.state), "new_state": str(state), "reason": reason,
                       "threshold": alarm.threshold, "comparison": alarm.comparison, "at": at}
            record_change(conn, action="alarm.state_change", object_kind=ObjectKind.ALARM, object_id=alarm.id,
                          event_type="alarm.state_changed", payload=payload,
                          details={"from": str(alarm.state), "to": str(state)})
            transitions.append((alarm, payload))
        return transitions


# ------------------------------------------------------------------------------------ helpers


@dataclasses.dataclass(frozen=True)
class _Input:
    """What one run reads: given tables, or a window of the endpoint's captured traffic."""

    data: DataSource | DatasetStatistics | None
    labels: DataSource | None
    start: dt.datetime | None
    end: dt.datetime | None
    format: str | None
    span: Span = dataclasses.field(default_factory=Span)
    unread: Unread | None = None  # without a window: the capture files since the previous such run

    def window(self) -> dict[str, int | None]:
        """The window checked, as stored: the one asked for, else the span of the captured records
        read (nothing for data given directly, whose times are unknown)."""
        if self.data is not None:
            return {"window_start": None, "window_end": None}
        start, end = self.start or self.span.first, self.end or self.span.last
        return {"window_start": None if start is None else datetime_to_ms(start, "start"),
                "window_end": None if end is None else datetime_to_ms(end, "end")}


def _enum(kind: type[enum.StrEnum], value: Any, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"{field} must be one of {', '.join(kind)}, not {value!r}", field=field) from None


def _breaks(metric: str, value: float, bound: float) -> bool:
    return value > bound if metric in LOWER_IS_BETTER else value < bound


def _monitors() -> Any:
    return select(monitors, monitoring_baselines.c.name.label("baseline_name"),
                  monitoring_baselines.c.version.label("baseline_version")).outerjoin(
        monitoring_baselines, monitoring_baselines.c.id == monitors.c.baseline_id)


def _executions() -> Any:
    return select(monitor_executions, monitors.c.name.label("monitor_name")).join(
        monitors, monitors.c.id == monitor_executions.c.monitor_id)


def _alarms() -> Any:
    return select(alarms, monitors.c.name.label("monitor_name")).join(monitors, monitors.c.id == alarms.c.monitor_id)


def _metrics(conn: Connection, execution_ids: list[str]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    if execution_ids:
        m = monitor_metrics.c
        for row in conn.execute(select(monitor_metrics).where(m.execution_id.in_(execution_ids))):
            found.setdefault(row.execution_id, {})[row.key] = row.value
    return found


def _aware(at: dt.datetime | None, field: str) -> dt.datetime | None:
    """A window bound comparable with capture times (which are aware)."""
    return None if at is None else check_aware(at, field)


def _baseline_version(row: Row[Any]) -> BaselineVersion:
    return BaselineVersion(id=row.id, name=row.name, version=row.version, item_count=row.item_count,
                           feature_count=row.feature_count, source=row.source, created_by=row.created_by,
                           created_at=ms_to_datetime(row.created_at))


def _monitor(row: Row[Any]) -> Monitor:
    config = json.loads(row.config)
    baseline = f"{row.baseline_name}:{row.baseline_version}" if row.baseline_name is not None else None
    return Monitor(id=row.id, name=row.name, kind=MonitorKind(row.kind), baseline=baseline,
                   endpoint=config.get("endpoint"), rules=config.get("rules", []),
                   problem_type=config.get("problem_type"), thresholds=config.get("thresholds", {}),
                   report=config.get("report"), model=config.get("model"), bias_config=config.get("bias"),
                   tolerance=config.get("tolerance"), bounds=config.get("bounds", {}),
                   ndcg_threshold=config.get("ndcg_threshold"), created_by=row.created_by,
                   created_at=ms_to_datetime(row.created_at))


def _execution(row: Row[Any], metrics: dict[str, float]) -> MonitorExecution:
    return MonitorExecution(id=row.id, monitor=row.monitor_name, status=ExecutionStatus(row.status),
                            item_count=row.item_count, violation_count=row.violation_count, message=row.message,
                            metrics=metrics, started_at=ms_to_datetime(row.started_at),
                            ended_at=ms_to_datetime(row.ended_at),
                            window_start=ms_to_datetime(row.window_start), window_end=ms_to_datetime(row.window_end))


def _alarm(row: Row[Any]) -> Alarm:
    return Alarm(id=row.id, name=row.name, monitor=row.monitor_name, metric=row.metric, comparison=row.comparison,
                 threshold=row.threshold, evaluation_periods=row.evaluation_periods,
                 datapoints_to_alarm=row.datapoints_to_alarm, webhooks=json.loads(row.webhooks),
                 state=AlarmState(row.state), state_reason=row.state_reason,
                 state_changed_at=ms_to_datetime(row.state_changed_at), created_by=row.created_by,
                 created_at=ms_to_datetime(row.created_at))
