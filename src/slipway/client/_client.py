"""The SDK's entry point: one ``Client``, embedded or remote, with the same calls."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

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


T = TypeVar("T")


class _Domain(Generic[T]):
    """A domain attribute of :class:`Client`, built on first use and kept: the backend's service
    embedded, else an instance of the remote class named ``remote`` over the client's session.

    The remote class's module is imported only then: most bring heavy libraries (pandas, pyarrow,
    DuckDB, the model flavors) that a command using another domain never needs. ``options`` are
    the keyword arguments of its ``connect``, each a function of the client.
    """

    def __init__(self, remote: str, **options: Callable[[Client], Any]) -> None:
        self._module, _, self._class = remote.rpartition(".")
        self._options = options

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, client: None, owner: type) -> _Domain[T]: ...

    @overload
    def __get__(self, client: Client, owner: type | None = None) -> T: ...

    def __get__(self, client: Client | None, owner: type | None = None) -> T | _Domain[T]:
        if client is None:
            return self  # read on the class: the declaration itself
        if client._http is None:
            found = getattr(client.backend, self._name)
        else:
            remote = getattr(importlib.import_module(self._module), self._class)
            found = remote.connect(client._http, **{key: make(client) for key, make in self._options.items()})
        client.__dict__[self._name] = found  # the instance's attribute from now on: built once
        return cast(T, found)


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

    registry: _Domain[RegistryApi] = _Domain(
        "slipway.client._registry.RemoteRegistry", cache_dir=lambda client: client.settings.home / "cache" / "models"
    )
    """The model registry; built on first use, since it brings ``slipway.models`` and pandas."""
    datasets: _Domain[DatasetsApi] = _Domain("slipway.client._datasets.RemoteDatasets")
    """Datasets; built on first use, since it brings pyarrow and pandas."""
    features: _Domain[FeaturesApi] = _Domain("slipway.client._features.RemoteFeatures")
    """The feature store; built on first use, since it brings DuckDB and pyarrow."""
    monitoring: _Domain[MonitoringApi] = _Domain("slipway.client._monitoring.RemoteMonitoring")
    """Baselines, monitors, their executions and alarms; built on first use, since it brings pandas."""
    clarify: _Domain[ClarifyApi] = _Domain(
        "slipway.client._clarify.RemoteClarify", registry=lambda client: client.registry
    )
    """Bias and explainability reports; built on first use, since it brings pandas and the model flavors."""
    pipelines: _Domain[PipelinesApi] = _Domain("slipway.client._pipelines.RemotePipelines")
    """Pipelines and their executions; built on first use."""
    lineage: _Domain[LineageApi] = _Domain("slipway.client._lineage.RemoteLineage")
    """What each object came from and what was made from it."""
    serving: _Domain[ServingApi] = _Domain("slipway.client._serving.RemoteServing")
    """Endpoints and deployments; built on first use, since it brings the model flavors."""
    security: _Domain[SecurityApi] = _Domain("slipway.client._security.RemoteSecurity")
    """Users, API tokens and the audit trail; remotely, the server checks who may do what."""
    automation: _Domain[AutomationApi] = _Domain("slipway.client._automation.RemoteAutomation")
    """Schedules, event rules, incoming hooks, retention and garbage collection; built on first use."""

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
