"""The embedded backend: the engines chosen by the settings and the domain services over them.

One ``Backend`` per process and settings; the server holds one, and so does an embedded client.
Services are built on first use, so a command that needs only tracking never loads the others.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from slipway._config import Settings
from slipway._confinement import Confinement
from slipway._urls import UrlPolicy
from slipway.lineage import LineageService
from slipway.security import SecurityService, SessionPolicy
from slipway.store import Database, JobInputs
from slipway.store.artifacts import ArtifactStore, storage_from_url
from slipway.tracking import TrackingService

if TYPE_CHECKING:
    from slipway.automation import AutomationService
    from slipway.clarify import ClarifyService
    from slipway.datasets import DatasetService
    from slipway.features import FeatureService
    from slipway.mlflow_compat import MlflowCompatService
    from slipway.monitoring import MonitoringService
    from slipway.pipelines import PipelineService
    from slipway.registry import RegistryService
    from slipway.serving import Services, ServingService

# The services that take code names, paths or trust from callers, or record failure reasons
# others read: Backend.confine switches them.
_CONFINED = ("pipelines", "monitoring", "serving")


class Backend:
    """Engines and services for one set of settings (embedded mode, until :meth:`confine`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.confinement = Confinement()
        # Whether this process orchestrates the pipeline executions it starts; a server whose
        # worker processes do it turns it off (slipway.server.serve).
        self.orchestrates = True
        self.db = Database(settings.db_url, timeout=settings.db_timeout,
                           synchronous=settings.db_synchronous)
        self.db.ensure_schema()

    def confine(self) -> None:
        """Hold what callers send to the server's settings from now on: ``slipway server`` calls it.

        Definitions and custom rules may then name code only from ``pipeline_modules``, read local
        paths only below ``dataset_roots``, and no ``trusted`` flag of a caller counts; the failure
        reasons recorded for others to read (endpoints, pipeline steps and their logs, monitor
        executions, automation runs) name no path of this machine's folders. Pipeline executions
        started from then on are queued, for any server or worker to claim. Services already built
        are switched too.
        """
        self.confinement = Confinement.server(self.settings)
        for name in _CONFINED:
            service = self.__dict__.get(name)
            if service is not None:
                service.confinement = self.confinement
        if "pipelines" in self.__dict__:
            self.pipelines.queue = True

    @functools.cached_property
    def artifacts(self) -> ArtifactStore:
        return ArtifactStore(self.db, storage_from_url(self.settings.artifact_url))

    @functools.cached_property
    def job_inputs(self) -> JobInputs:
        """The data requests hand the worker processes with their jobs (see :class:`JobInputs`)."""
        return JobInputs(self.db, self.artifacts)

    @functools.cached_property
    def tracking(self) -> TrackingService:
        return TrackingService(self.db, self.artifacts)

    @functools.cached_property
    def registry(self) -> RegistryService:
        from slipway.registry import ApprovalPolicy, RegistryService  # brings slipway.models and pandas

        cache = self.settings.home / "cache" / "models"
        policy = ApprovalPolicy(protected_aliases=frozenset(self.settings.protected_aliases))
        return RegistryService(
            self.db, self.artifacts, self.tracking, cache_dir=cache, policy=policy,
            # Serving sits above the registry: asked only when something is deleted, so built only then.
            in_use=lambda version_ids: self.serving.endpoints_serving(version_ids),
        )

    @functools.cached_property
    def datasets(self) -> DatasetService:
        from slipway.datasets import service_for  # brings pyarrow and pandas: import on first use

        return service_for(self.settings, self.db, self.artifacts)

    @functools.cached_property
    def features(self) -> FeatureService:
        from slipway.features import service_for  # brings DuckDB: import on first use

        return service_for(self.settings, self.db, self.artifacts, self.datasets)

    @functools.cached_property
    def pipelines(self) -> PipelineService:
        from slipway.pipelines import PipelineService, ServiceSpec  # worker pools and runners: import on first use

        return PipelineService(
            self.db, self.artifacts, ServiceSpec(Backend, self.settings), confinement=self.confinement,
            queue=self.confinement.remote, orchestrate=self.orchestrates, lease_seconds=self.settings.lease_seconds,
        )

    @functools.cached_property
    def serving(self) -> ServingService:
        from slipway.serving import ServingService  # brings Starlette and the model flavors: import on first use

        return ServingService(self.db, self.registry, self.artifacts, confinement=self.confinement,
                              datasets=self.datasets)

    @functools.cached_property
    def monitoring(self) -> MonitoringService:
        from slipway.monitoring import MonitoringService  # brings pyarrow and pandas: import on first use

        return MonitoringService(
            self.db, self.artifacts, self.datasets, self.serving, self.registry, self.urls,
            confinement=self.confinement, clarify=self.clarify,
        )

    @functools.cached_property
    def clarify(self) -> ClarifyService:
        from slipway.clarify import ClarifyService  # brings pyarrow and the model flavors: import on first use

        return ClarifyService(self.db, self.artifacts, self.datasets, self.registry)

    @functools.cached_property
    def urls(self) -> UrlPolicy:
        """Which hosts webhooks may call (monitoring alarms, automation), from the settings."""
        return UrlPolicy(self.settings.webhook_hosts)

    @functools.cached_property
    def automation(self) -> AutomationService:
        from slipway.automation import AutomationService  # sits on every domain: import on first use

        return AutomationService(self.db, self.artifacts, self)

    @functools.cached_property
    def lineage(self) -> LineageService:
        return LineageService(self.db)

    @functools.cached_property
    def mlflow(self) -> MlflowCompatService:
        from slipway.mlflow_compat import MlflowCompatService  # builds on the registry: import on first use

        return MlflowCompatService(self.db, self.artifacts, self.tracking, self.registry)

    @functools.cached_property
    def security(self) -> SecurityService:
        sessions = SessionPolicy(ttl=dt.timedelta(seconds=self.settings.session_ttl),
                                 max_age=dt.timedelta(seconds=self.settings.session_max_age))
        return SecurityService(self.db, sessions)

    def close(self) -> None:
        if "features" in self.__dict__:
            self.features.close()
        if "pipelines" in self.__dict__:
            self.pipelines.close()
        self.db.dispose()


def serving_services(settings: Settings) -> Services:
    """The serving services of ``settings`` in a process of their own: what a Ray Serve replica opens
    (pickled there by reference, with ``settings`` bound by ``functools.partial``)."""
    from slipway.serving import Services

    backend = Backend(settings)
    backend.confine()  # its callers are other people: what it says names no path of this machine
    return Services(backend.serving, backend.registry, backend.artifacts, backend.close, backend.confinement.paths)
