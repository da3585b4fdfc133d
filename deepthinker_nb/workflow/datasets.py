"""The bundled demo datasets (``notebooks/data/``): where they are and how to run them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepthinker_nb.errors import ConfigError


@dataclass(frozen=True)
class BundledDataset:
    name: str
    file: str
    task_type: str
    target: str
    objective: str

    @property
    def path(self) -> Path:
        return data_dir() / self.file


CATALOGUE: dict[str, BundledDataset] = {d.name: d for d in (
    BundledDataset("churn", "churn.csv", "classification", "churned",
                   "Predict which customers will churn so the retention team can call them "
                   "first."),
    BundledDataset("iris", "iris.csv", "classification", "species",
                   "Classify iris flowers into their species from petal and sepal measurements."),
    BundledDataset("wine", "wine.csv", "classification", "cultivar",
                   "Identify the cultivar of a wine from its chemical analysis."),
    BundledDataset("breast_cancer", "breast_cancer.csv", "classification", "diagnosis",
                   "Tell malignant from benign tumours from cell-nucleus measurements."),
    BundledDataset("diabetes", "diabetes.csv", "regression", "progression",
                   "Predict disease progression one year after baseline from patient "
                   "measurements."),
)}
DEFAULT_DATASET = "churn"


def data_dir() -> Path:
    """``notebooks/data`` of a source checkout, or its copy inside an installed wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_data" / "notebooks" / "data",
                      package.parent / "notebooks" / "data"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("the bundled datasets are missing; reinstall deepthinker-nb or run "
                      "notebooks/data/make_datasets.py")


def bundled_dataset(name: str = DEFAULT_DATASET) -> BundledDataset:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; bundled: {', '.join(CATALOGUE)}")
