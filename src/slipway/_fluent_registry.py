"""``slipway.register_model(...)`` and ``slipway.load_model(uri)``: the registry on the default client.

Inside ``with slipway.start_run():`` a registered model records the active run as its source, so
the lineage from the data the run read to the version needs no extra argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from slipway._fluent import active_run, get_client
from slipway.client import Client

if TYPE_CHECKING:  # slipway.models brings pandas: imported when a model is first registered or loaded
    from slipway.models import LoadedModel, ModelCard
    from slipway.registry import MetricValue, ModelVersion


def register_model(
    group: str,
    model_or_path: Any,
    *,
    flavor: str | None = None,
    input_example: object = None,
    metrics: Mapping[str, float | MetricValue | Mapping[str, float | None]] | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    source_run_id: str | None = None,
    model_card: ModelCard | str | None = None,
    trusted: bool | Iterable[str] = False,
    client: Client | None = None,
) -> ModelVersion:
    """Package ``model_or_path`` and register it as the next version of ``group``.

    The arguments are those of :meth:`slipway.registry.RegistryService.register_model`. Within an
    active run, that run is the source unless ``source_run_id`` says otherwise, and the run's
    client is used unless ``client`` is given.

    Example:
        >>> import slipway
        >>> with slipway.start_run("abalone"):
        ...     model = Ridge().fit(X, y)
        ...     v = slipway.register_model("abalone", model, input_example=X[:5], metrics={"mse": 4.9})
        >>> v.uri
        'models:/abalone/1'
    """
    run = active_run()
    if client is None:
        client = run.client if run is not None else get_client()
    if source_run_id is None and run is not None:
        source_run_id = run.id
    return client.registry.register_model(
        group,
        model_or_path,
        flavor=flavor,
        input_example=input_example,
        metrics=metrics,
        description=description,
        metadata=metadata,
        tags=tags,
        source_run_id=source_run_id,
        model_card=model_card,
        trusted=trusted,
    )


def load_model(uri: str, *, trusted: bool | Iterable[str] = False, client: Client | None = None) -> LoadedModel:
    """Load the model version a URI names: ``models:/NAME/3``, ``/latest``, ``@prod``, ``@latest-approved``.

    Packages are cached under the settings' home by version id, so loading again reads no files
    from the store. ``trusted`` is as for :func:`slipway.models.load_model`.

    Example:
        >>> import slipway
        >>> slipway.load_model("models:/abalone@prod").predict(X)
    """
    return (client or get_client()).registry.load_model(uri, trusted=trusted)
