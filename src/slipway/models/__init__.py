"""Model packaging: one folder format and one ``predict`` for every framework.

A package is a plain folder: ``slipway-model.json`` (the manifest: flavor, files, signature, the
package versions the model was made with, metadata), the model file(s) in the framework's own
format, and optionally ``input_example.json`` and ``MODEL_CARD.md``. The registry stores these
files in the artifact store; serving loads them back.

Flavors (:data:`flavors`) and what loading them needs:

- ``sklearn``: skops; types beyond what skops trusts must be named in ``trusted=[...]``.
- ``xgboost``, ``lightgbm``: their native formats; nothing.
- ``onnx``: onnxruntime; nothing.
- ``pytorch``: TorchScript; nothing.
- ``pyfunc``: cloudpickle, which runs code when read; ``trusted=True``.
- ``mlflow``: an MLflow model folder as MLflow's client logs it: read natively when saved with skops
  (as ``sklearn``), XGBoost's or LightGBM's native format or ONNX; otherwise mlflow, and
  ``trusted=True``.

Example:
    >>> import tempfile
    >>> import pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> from slipway.models import load_model, save_model
    >>> X = pd.DataFrame({"length": [0.3, 0.5, 0.7]})
    >>> folder = tempfile.mkdtemp() + "/rings"
    >>> _ = save_model(LinearRegression().fit(X, [5, 9, 13]), folder, input_example=X)
    >>> load_model(folder).predict({"length": [0.4]}).round(6).tolist()
    [7.0]
"""

from slipway.errors import SlipwayWarning, UntrustedModel
from slipway.models._card import ModelCard
from slipway.models._flavor import Flavor, ModelInput
from slipway.models._manifest import MANIFEST, ModelInfo, read_manifest
from slipway.models._mlflow import FOLDER as MLFLOW_FOLDER
from slipway.models._package import LoadedModel, load_model, save_model
from slipway.models._registry import FLAVOR_NAMES as flavors
from slipway.models._signature import ColumnSpec, ParamSpec, Signature, TensorSpec, infer_signature

__all__ = [
    "ColumnSpec",
    "Flavor",
    "LoadedModel",
    "MANIFEST",
    "MLFLOW_FOLDER",
    "ModelCard",
    "ModelInfo",
    "ModelInput",
    "ParamSpec",
    "Signature",
    "SlipwayWarning",
    "TensorSpec",
    "UntrustedModel",
    "flavors",
    "infer_signature",
    "load_model",
    "read_manifest",
    "save_model",
]
