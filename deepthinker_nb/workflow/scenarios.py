"""Simulation scenarios, applied by the HOST to copies of the split.

The kernel re-runs the best code on the perturbed ``train.csv`` / ``test_features.csv``; the host
keeps the (possibly filtered) test labels and computes the metric, as in the coding loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepthinker_nb.workflow.councils.base import Scenario
from deepthinker_nb.workflow.data import ROW_ID, SplitData, label_key


@dataclass
class ScenarioData:
    train: pd.DataFrame
    test_features: pd.DataFrame
    test_labels: pd.Series
    """Indexed by ``row_id``; host memory only."""


def apply_scenario(scenario: Scenario, split: SplitData, seed: int) -> ScenarioData:
    """The perturbed copy of ``split`` that ``scenario`` describes (the original is untouched)."""
    rng = np.random.default_rng(seed)
    train = split.train.copy()
    test = split.test_features.copy()
    labels = split.test_labels.copy()
    features = split.feature_columns
    params = scenario.params
    if scenario.kind == "label_noise":
        fraction = float(params.get("fraction", 0.1))
        rows = rng.choice(len(train), size=max(1, round(fraction * len(train))),
                          replace=False)
        target = split.target
        if split.task_type == "classification":
            values = train[target].to_numpy(dtype=object)
            classes = sorted(set(values), key=label_key)
            for r in rows:
                others = [c for c in classes if label_key(c) != label_key(values[r])]
                values[r] = others[rng.integers(len(others))]
            train[target] = pd.Series(values, index=train.index).infer_objects()
        else:
            std = float(train[target].std())
            column = train[target].to_numpy(dtype=float).copy()
            column[rows] += rng.normal(0.0, 0.5 * std, size=len(rows))
            train[target] = column
    elif scenario.kind == "missing_values":
        fraction = float(params.get("fraction", 0.2))
        for frame in (train, test):
            mask = rng.random((len(frame), len(features))) < fraction
            for j, column in enumerate(features):
                frame[column] = frame[column].mask(mask[:, j])
    elif scenario.kind == "subgroup":
        column = params["column"]
        if pd.api.types.is_numeric_dtype(split.train[column]):
            keep = test[column] > split.train[column].median()
        else:
            keep = test[column] == split.train[column].mode().iloc[0]
        if keep.sum() == 0:
            keep[:] = True
        test = test[keep.to_numpy()].reset_index(drop=True)
        labels = labels.loc[test[ROW_ID].to_numpy()]
    elif scenario.kind == "shift":
        column = params["column"]
        shift = float(params.get("std", 1.0)) * float(split.train[column].std())
        test[column] = test[column] + shift
    else:
        raise ValueError(f"unknown scenario kind {scenario.kind!r}")
    return ScenarioData(train, test, labels)
