"""Model packages for the serving tests, importable by name from tests and from spawned servers."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LinearRegression

from slipway.models import ColumnSpec, Signature, save_model
from slipway.registry import RegistryService

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 2.0]})


def write_line(folder: Path) -> Path:
    """y = 2a - b + 0.5, checked against its input example."""
    save_model(LinearRegression().fit(X, X.a * 2 - X.b + 0.5), folder, input_example=X)
    return folder


def write_broken(folder: Path) -> Path:
    """A package whose signature takes a column its model never saw: every prediction fails (500)."""
    signature = Signature(inputs=tuple(ColumnSpec(name=n, type="double") for n in ("a", "b", "c")))
    save_model(LinearRegression().fit(X, X.a), folder, signature=signature)
    return folder


def register(registry: RegistryService, package: Path, group: str = "line", *, approve: bool = True) -> str:
    """Register ``package`` in ``group``; return its ``GROUP/VERSION``."""
    version = registry.register_model(group, package)
    if approve:
        registry.approve(group, version.version)
    return f"{group}/{version.version}"


def abalone_frame() -> pd.DataFrame:
    """The bundled abalone data: sex as a string column, seven measurements, rings."""
    from importlib import resources

    with resources.files("slipway._data").joinpath("abalone.csv").open("rb") as handle:
        return pd.read_csv(handle)


def write_abalone(folder: Path) -> Path:
    """Rings from sex (a string column, one-hot encoded inside the model) and the measurements."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = abalone_frame()
    x, y = frame.drop(columns=["rings"]), frame["rings"]
    numeric = [c for c in x.columns if c != "sex"]
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["sex"]), (StandardScaler(), numeric))
    save_model(make_pipeline(encode, Ridge(alpha=1.0)).fit(x, y), folder, input_example=x.head(5))
    return folder


class Scaled:
    """A model taking an inference parameter, as MLflow's pyfunc models do: ``a * scale + offset``."""

    def predict(self, data: pd.DataFrame, params: dict) -> object:
        return data["a"].to_numpy() * params["scale"] + params["offset"]


def write_scaled(folder: Path) -> Path:
    """A pyfunc package (cloudpickle: loading it needs trust) declaring the parameters ``scale`` and ``offset``."""
    from slipway.models import infer_signature

    signature = infer_signature(X, params={"scale": 1.0, "offset": 0})
    save_model(Scaled(), folder, input_example=X, signature=signature, trusted=True)
    return folder
