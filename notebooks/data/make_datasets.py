"""Write the bundled demo datasets (small CSVs) from data that ships inside scikit-learn.

No downloads: iris, wine and breast cancer (classification) and diabetes (regression) come with
scikit-learn; ``churn.csv`` is generated deterministically (numeric + categorical columns with
missing values, a binary target with non-linear effects).

Run: ``python notebooks/data/make_datasets.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets

HERE = Path(__file__).resolve().parent
SEED = 7

# Targets, tasks and default objectives: deepthinker_nb/workflow/datasets.py (CATALOGUE).
FILES = {"churn": "churn.csv", "iris": "iris.csv", "wine": "wine.csv",
         "breast_cancer": "breast_cancer.csv", "diabetes": "diabetes.csv"}


def _from_bunch(bunch, target: str, names=None) -> pd.DataFrame:
    frame = pd.DataFrame(bunch.data, columns=[str(c).replace(" ", "_") for c in
                                              bunch.feature_names])
    values = bunch.target
    frame[target] = [names[v] for v in values] if names is not None else values
    return frame.round(5)


def churn(n: int = 600, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2])
    internet = rng.choice(["fiber", "dsl", "none"], n, p=[0.45, 0.4, 0.15])
    payment = rng.choice(["card", "bank-transfer", "electronic-check", "mailed-check"], n)
    tenure = rng.integers(1, 73, n)
    charges = np.round(20 + 60 * rng.random(n) + np.where(internet == "fiber", 25, 0), 2)
    calls = rng.poisson(1.5, n)
    age = rng.integers(18, 80, n)
    # Churn comes from combinations (short month-to-month contracts, expensive fibre, many
    # support calls, young customers paying by e-check): a linear model sees only part of it.
    logit = (-2.6 + 3.0 * ((contract == "month-to-month") & (tenure < 15))
             + 2.6 * ((internet == "fiber") & (charges > 90)) + 2.2 * (calls >= 4)
             + 1.8 * ((age < 30) & (payment == "electronic-check"))
             - 1.0 * (contract == "two-year"))
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "tenure_months": tenure, "monthly_charges": charges, "support_calls": calls,
        "age": age, "contract": contract, "internet_service": internet,
        "payment_method": payment, "churned": np.where(churned, "yes", "no"),
    })
    for column, rate in (("monthly_charges", 0.05), ("age", 0.08), ("internet_service", 0.06),
                         ("payment_method", 0.04)):
        frame.loc[rng.random(n) < rate, column] = np.nan
    return frame


def build() -> dict[str, pd.DataFrame]:
    iris = datasets.load_iris()
    wine = datasets.load_wine()
    cancer = datasets.load_breast_cancer()
    return {
        "churn": churn(),
        "iris": _from_bunch(iris, "species", list(iris.target_names)),
        "wine": _from_bunch(wine, "cultivar", [f"cultivar_{i}" for i in range(3)]),
        "breast_cancer": _from_bunch(cancer, "diagnosis", ["malignant", "benign"]),
        "diabetes": _from_bunch(datasets.load_diabetes(scaled=False), "progression"),
    }


def main() -> None:
    for name, frame in build().items():
        path = HERE / FILES[name]
        frame.to_csv(path, index=False)
        print(f"{path.name}: {frame.shape[0]} rows x {frame.shape[1]} columns")


if __name__ == "__main__":
    main()
