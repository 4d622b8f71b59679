"""The SDK's entry point: one ``Client``, embedded or remote, with the same calls."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from slipway._backend import Backend
from slipway._config import Settings, load_settings
from slipway.client._http import HttpSession
from slipway.client._retry import RetryPolicy
from slipway.client._tracking import RemoteTracking

if TYPE_CHECKING:
    from slipway.client._protocols import (
        AutomationApi,
        ClarifyApi,
        DatasetsApi,
        FeaturesApi,
        LineageApi,
        MonitoringApi,
        PipelinesApi,
        RegistryApi,
        SecurityApi,
        ServingApi,
        TrackingApi,
    )


class Client:
    """Talks to the local store (embedded) or to a ``slipway server`` (remote).

    Remote mode is chosen by ``server_url`` (or ``SLIPWAY_SERVER_URL``); the domain attributes
    offer the same methods either way, and raise the same exceptions.

    Example:
        >>> client = Client(home="/tmp/slipway-doc")
        >>> run = client.tracking.create_run(name="first")
        >>> client.tracking.log_metric(run.id, "mse", 4.2)
        >>> client.tracking.get_run(run.id).metrics["mse"].value
        4.2
    """

    tracking: TrackingApi

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        home: str | Path | None = None,
        db_url: str | None = None,
        artifact_url: str | None = None,
        server_url: str | None = None,
        token: str | None = None,
    ) -> None:
        if settings is None:
            settings = load_settings(
                home=home, db_url=db_url, artifact_url=artifact_url, server_url=server_url, token=token
            )
        self.settings = settings
        self._backend: Backend | None = None
        self._http: HttpSession | None = None
        if self.settings.remote:
            assert self.settings.server_url is not None
            retry = RetryPolicy(retries=self.settings.retries, backoff=self.settings.retry_backoff)
            self._http = HttpSession(self.settings.server_url, token=self.settings.token, retry=retry)
            self.tracking = RemoteTracking.connect(self._http)
        else:
            self._backend = Backend(self.settings)
            self.tracking = self._backend.tracking

    @property
    def remote(self) -> bool:
        return self._http is not None

    @functools.cached_property
    def registry(self) -> RegistryApi:
        """The model registry; built on first use, since it brings ``slipway.models`` and pandas."""
        if self._http is None:
            return self.backend.registry
        from slipway.client._registry import RemoteRegistry  # brings slipway.models: import on first use

        return RemoteRegistry.connect(self._http, cache_dir=self.settings.home / "cache" / "models")

    @functools.cached_property
    def datasets(self) -> DatasetsApi:
        """Datasets; built on first use, since it brings pyarrow and pandas."""
        if self._http is None:
            return self.backend.datasets
        from slipway.client._datasets import RemoteDatasets  # brings pyarrow: import on first use

        return RemoteDatasets.connect(self._http)

    @functools.cached_property
    def features(self) -> FeaturesApi:
        """The feature store; built on first use, since it brings DuckDB and pyarrow."""
        if self._http is None:
            return self.backend.features
        from slipway.client._features import RemoteFeatures  # brings pyarrow: import on first use

        return RemoteFeatures.connect(self._http)

    @functools.cached_property
    def monitoring(self) -> MonitoringApi:
        """Baselines, monitors, their executions and alarms; built on first use, since it brings pandas."""
        if self._http is None:
            return self.backend.monitoring
        from slipway.client._monitoring import RemoteMonitoring  # brings pandas and pyarrow: import on first use

        return RemoteMonitoring.connect(self._http)

    @functools.cached_property
    def clarify(self) -> ClarifyApi:
        """Bias and explainability reports; built on first use, since it brings pandas and the model flavors."""
        if self._http is None:
            return self.backend.clarify
        from slipway.client._clarify import RemoteClarify  # brings slipway.clarify: import on first use

        return RemoteClarify.connect(self._http, registry=self.registry)

    @functools.cached_property
    def pipelines(self) -> PipelinesApi:
        """Pipelines and their executions; built on first use."""
        if self._http is None:
            return self.backend.pipelines
        from slipway.client._pipelines import RemotePipelines  # brings slipway.pipelines: import on first use

        return RemotePipelines.connect(self._http)

    @functools.cached_property
    def lineage(self) -> LineageApi:
        """What each object came from and what was made from it."""
        if self._http is None:
            return self.backend.lineage
        from slipway.client._lineage import RemoteLineage  # only lineage queries need it

        return RemoteLineage.connect(self._http)

    @functools.cached_property
    def serving(self) -> ServingApi:
        """Endpoints and deployments; built on first use, since it brings the model flavors."""
        if self._http is None:
            return self.backend.serving
        from slipway.client._serving import RemoteServing  # brings slipway.serving: import on first use

        return RemoteServing.connect(self._http)

    @functools.cached_property
    def security(self) -> SecurityApi:
        """Users, API tokens and the audit trail; remotely, the server checks who may do what."""
        if self._http is None:
            return self.backend.security
        from slipway.client._security import RemoteSecurity  # only the security commands need it

        return RemoteSecurity.connect(self._http)

    @functools.cached_property
    def automation(self) -> AutomationApi:
        """Schedules, event rules, incoming hooks, retention and garbage collection; built on first use."""
        if self._http is None:
            return self.backend.automation
        from slipway.client._automation import RemoteAutomation  # brings slipway.automation: import on first use

        return RemoteAutomation.connect(self._http)

    @property
    def backend(self) -> Backend:
        """The embedded engines and services; only in embedded mode."""
        if self._backend is None:
            raise RuntimeError("this client talks to a server; there is no local backend")
        return self._backend

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._backend is not None:
            self._backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.settings.server_url if self.remote else self.settings.db_url
        return f"Client({'remote' if self.remote else 'embedded'}: {where})"
