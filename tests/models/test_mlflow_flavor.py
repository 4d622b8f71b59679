"""The ``mlflow`` flavor: an MLflow model folder kept as is, never read without trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import InvalidInput, UntrustedModel
from slipway.models import MLFLOW_FOLDER, load_model, save_model


@pytest.fixture
def mlflow_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n")
    (folder / "model.pkl").write_bytes(b"not really a pickle")
    return folder


def test_save_copies_the_folder_unread(mlflow_folder: Path, tmp_path: Path) -> None:
    info = save_model(mlflow_folder, tmp_path / "package", flavor="mlflow", trusted=True)
    assert info.flavor == "mlflow"
    copied = tmp_path / "package" / MLFLOW_FOLDER
    assert (copied / "model.pkl").read_bytes() == b"not really a pickle"
    assert (copied / "MLmodel").is_file()


def test_saving_and_loading_need_trust(mlflow_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(UntrustedModel, match="trusted=True"):
        save_model(mlflow_folder, tmp_path / "refused", flavor="mlflow")
    save_model(mlflow_folder, tmp_path / "package", flavor="mlflow", trusted=True)
    with pytest.raises(UntrustedModel, match="unpickles"):
        load_model(tmp_path / "package")


def test_only_an_mlflow_folder_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="MLmodel"):
        save_model(tmp_path, tmp_path / "package", flavor="mlflow", trusted=True)
    with pytest.raises(InvalidInput, match="MLmodel"):
        save_model(object(), tmp_path / "other", flavor="mlflow", trusted=True)
