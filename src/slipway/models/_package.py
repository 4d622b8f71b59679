"""Saving a model as a package folder and loading it back."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slipway.errors import AlreadyExists, InvalidInput, NotFound
from slipway.models._card import ModelCard
from slipway.models._flavor import Flavor, ModelInput, Prediction, package_file
from slipway.models._inputs import as_model_input, example_from_json, example_to_json
from slipway.models._manifest import FORMAT_VERSION, ModelInfo, read_manifest, write_manifest
from slipway.models._registry import detect_flavor, get_flavor
from slipway.models._signature import ParamSpec, Signature, SignatureChecker, TensorSpec, check_params, infer_signature
from slipway.models._trust import Trust
from slipway.models._versions import installed_versions, warn_on_mismatch

_EXAMPLE = "input_example.json"
_CARD = "MODEL_CARD.md"


class LoadedModel:
    """A model package read back: the framework's model and what the package says about it.

    Attributes:
        info: the package's manifest.
        raw: the framework's own model object (an estimator, a Booster, an onnxruntime
            session, a TorchScript module, the unpickled object).
        model_card: the model card, if the package has one.
        input_example: the input example, if the package has one.
    """

    def __init__(
        self,
        info: ModelInfo,
        raw: Any,
        flavor: Flavor,
        *,
        model_card: ModelCard | None = None,
        input_example: ModelInput | None = None,
    ) -> None:
        self.info = info
        self.raw = raw
        self.model_card = model_card
        self.input_example = input_example
        self._flavor = flavor
        signature = info.signature
        arrays = signature is not None and _takes_arrays(flavor, raw, info.flavor_config, signature, input_example)
        self._checker = None if signature is None else SignatureChecker(signature, arrays=arrays)
        declared = signature.params if signature is not None else None
        self.params: tuple[ParamSpec, ...] | None = declared or flavor.declared_params(raw, info.flavor_config)

    @property
    def flavor(self) -> str:
        """The name of the flavor that stored the model."""
        return self.info.flavor

    @property
    def signature(self) -> Signature | None:
        """The model's inputs and outputs, when the package records them."""
        return self.info.signature

    def predict(self, data: object, params: Mapping[str, Any] | None = None) -> Prediction:
        """Run the model on a DataFrame, an array, a dict of column lists or a list of record dicts.

        When the package has a signature, the input is checked and converted with
        :meth:`Signature.validate` first, so columns may come in any order. When the flavor takes
        arrays and did so on the input example with the same answers as for the DataFrame, numeric
        columns reach the model as one NumPy array in signature order (much faster for small
        inputs, which is what an inference server sends).

        ``params`` are inference parameters (MLflow's ``params``) for a model that declares them
        (:attr:`params`): they are checked, the others take their defaults, and the model's
        ``predict`` is called with ``params=``.

        Raises:
            InvalidInput: when the input does not match the signature, or ``params`` name a
                parameter the model does not declare (any, for a model declaring none) or hold a
                value of the wrong type.
        """
        if self.params is None and params:
            raise InvalidInput(
                f"this model takes no inference parameters, so it cannot take {sorted(params)[0]!r}", field="params"
            )
        return _predict(self._flavor, self.raw, self.info.flavor_config, self._checker, data, self.params, params)

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self.flavor!r}, created_at={self.info.created_at.isoformat()!r})"


def save_model(
    model: Any,
    path: str | Path,
    *,
    flavor: str | None = None,
    input_example: object = None,
    signature: Signature | None = None,
    model_card: ModelCard | str | None = None,
    trusted: bool | Iterable[str] = False,
    metadata: dict[str, Any] | None = None,
) -> ModelInfo:
    """Write ``model`` as a package folder that :func:`load_model` reads back on any machine.

    The folder holds the manifest ``slipway-model.json``, the flavor's model file(s), and
    ``input_example.json`` and ``MODEL_CARD.md`` when given. It is written in a sibling staging
    folder and renamed into place, so a failed save leaves nothing behind.

    When an input example is given, the staged package is loaded back and run on it: a package
    that cannot predict its own example is never written, and without an explicit ``signature``
    the inputs are inferred from the example and the outputs from that prediction.

    Example:
        >>> import tempfile, numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> model = LinearRegression().fit(X, [1.0, 3.0, 5.0])
        >>> folder = tempfile.mkdtemp() + "/line"
        >>> save_model(model, folder, input_example=X, metadata={"owner": "ana"}).flavor
        'sklearn'

    Args:
        model: the trained model; its flavor is detected from its class unless ``flavor`` is given.
        path: the package folder; it must not exist or be empty.
        flavor: one of :data:`flavors`, to override detection (needed for ONNX bytes or paths).
        input_example: a few rows of typical input (DataFrame, array, dict of lists, list of dicts).
        signature: the model's inputs and outputs; inferred from ``input_example`` when omitted.
        model_card: a :class:`ModelCard` or Markdown text.
        trusted: the trust loading this package will need, given now so that a model that could
            not be loaded without it is refused at training time: ``True``, or the type names a
            scikit-learn model holds beyond what skops trusts. ``pyfunc`` always needs ``True``.
        metadata: free-form JSON-serialisable data stored in the manifest.

    Returns:
        The manifest as written.

    Raises:
        AlreadyExists: when ``path`` exists and is not an empty folder.
        InvalidInput: when the flavor is unknown or undetectable, the example or metadata cannot be
            stored, or the example does not match the signature.
        UntrustedModel: when loading the package would need trust not given in ``trusted``.
        MissingExtra: when the flavor's framework is not installed.
    """
    trust = Trust.of(trusted)
    chosen = get_flavor(flavor) if flavor is not None else detect_flavor(model)
    example = None if input_example is None else as_model_input(input_example)
    card = model_card.to_markdown() if isinstance(model_card, ModelCard) else model_card
    extras = _json_metadata(metadata)
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists and is not an empty folder", field="path")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.partial"
    staging.mkdir()
    try:
        config = chosen.save(model, staging, trust)
        if example is not None:
            (staging / _EXAMPLE).write_text(example_to_json(example), encoding="utf-8")
            signature = _check_example(chosen, staging, config, trust, example, signature)
        if card is not None:
            (staging / _CARD).write_text(card, encoding="utf-8")
        info = ModelInfo(
            format_version=FORMAT_VERSION,
            flavor=chosen.name,
            flavor_config=config,
            signature=signature,
            input_example=None if example is None else _EXAMPLE,
            model_card=None if card is None else _CARD,
            packages=installed_versions(chosen.packages),
            created_at=datetime.now(UTC),
            metadata=extras,
        )
        write_manifest(staging, info)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_manifest(target)


def load_model(path: str | Path, *, trusted: bool | Iterable[str] = False) -> LoadedModel:
    """Read a package folder written by :func:`save_model`.

    Warns with :class:`SlipwayWarning` for each package (Python, NumPy, pandas, the framework)
    whose installed major.minor version differs from the one the model was made with.

    Example:
        >>> import tempfile, numpy as np
        >>> from sklearn.linear_model import LinearRegression
        >>> folder = tempfile.mkdtemp() + "/line"
        >>> _ = save_model(LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0]), folder)
        >>> model = load_model(folder)
        >>> model.flavor, model.predict(np.array([[2.0]])).round(6).tolist()
        ('sklearn', [5.0])

    Args:
        path: the package folder.
        trusted: what the caller vouches for: ``True`` for the whole package (required for
            ``pyfunc``, whose cloudpickle file runs code when read), or the type names a
            scikit-learn model holds beyond what skops trusts. Formats that hold no code (skops
            with only trusted types, XGBoost, LightGBM, ONNX, TorchScript) need nothing.

    Raises:
        NotFound: when ``path`` is not a folder.
        InvalidInput: when the manifest is missing or malformed, or names a missing file.
        UntrustedModel: when the package holds something ``trusted`` does not cover.
        MissingExtra: when the flavor's framework is not installed.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise NotFound(f"no model package at {folder}", field="path")
    info = read_manifest(folder)
    flavor = get_flavor(info.flavor)
    warn_on_mismatch(info.packages)
    raw = flavor.load(folder, info.flavor_config, Trust.of(trusted))
    card = None
    if info.model_card is not None:
        card = ModelCard.from_markdown(package_file(folder, info.model_card).read_text(encoding="utf-8"))
    example = None
    if info.input_example is not None:
        example = example_from_json(package_file(folder, info.input_example).read_text(encoding="utf-8"))
    return LoadedModel(info, raw, flavor, model_card=card, input_example=example)


def _predict(
    flavor: Flavor,
    raw: Any,
    config: dict[str, Any],
    checker: SignatureChecker | None,
    data: object,
    declared: tuple[ParamSpec, ...] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Prediction:
    """The flavor's prediction of checked ``data``; a model declaring parameters always gets them
    (``params`` checked, the others at their defaults)."""
    values = checker.validate(data) if checker is not None else as_model_input(data)
    if declared is None:
        return flavor.predict(raw, values, config)
    return flavor.predict_with_params(raw, values, config, check_params(declared, params))


def _takes_arrays(
    flavor: Flavor, raw: Any, config: dict[str, Any], signature: Signature, example: ModelInput | None
) -> bool:
    """Whether ``raw`` answers a NumPy array of the signature's columns as it answers the DataFrame.

    Asked of the input example once, at load: a model that selects columns by name (a
    scikit-learn ColumnTransformer) fails or answers differently, and keeps getting DataFrames.
    """
    if not flavor.accepts_arrays or example is None or isinstance(signature.inputs, TensorSpec):
        return False
    frame = SignatureChecker(signature).validate(example)
    if not isinstance(frame, pd.DataFrame) or frame.dtypes.nunique() != 1:
        return False
    try:
        expected, got = flavor.predict(raw, frame, config), flavor.predict(raw, frame.to_numpy(), config)
    except Exception:  # noqa: BLE001 - any failure means: keep DataFrames
        return False
    if not isinstance(expected, np.ndarray) or not isinstance(got, np.ndarray) or expected.shape != got.shape:
        return False
    return bool(np.array_equal(expected, got, equal_nan=expected.dtype.kind in "fc"))


def _check_example(
    flavor: Flavor,
    staging: Path,
    config: dict[str, Any],
    trust: Trust,
    example: ModelInput,
    signature: Signature | None,
) -> Signature:
    """Load the staged model, run it on the example, and return the signature (inferred if not given)."""
    raw = flavor.load(staging, config, trust)
    checker = SignatureChecker(signature or infer_signature(example))
    prediction = _predict(flavor, raw, config, checker, example, signature.params if signature else None)
    if signature is not None:
        return signature
    return infer_signature(example, prediction if isinstance(prediction, pd.DataFrame | np.ndarray) else None)


def _json_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """``metadata`` as it will read back from JSON, or a clear error if it has no JSON form."""
    try:
        return json.loads(json.dumps(metadata or {}))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata must be JSON-serialisable: {exc}", field="metadata") from exc
