"""The researcher classifies every column in the kernel, and the coder follows the roles:
identifiers, constants and leaks dropped with a note, dates as calendar parts, text as TF-IDF,
many-valued categories target-encoded inside the pipeline."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from deepthinker_nb.config import DataConfig, IterationConfig
from deepthinker_nb.workflow import WorkflowRunner
from deepthinker_nb.workflow.councils.columns import ColumnPlan, classify_columns
from deepthinker_nb.workflow.data import load_and_split

WORDS = ["late delivery", "asked for a refund", "happy with the product", "wants a call back",
         "changed the address", "price complaint", "loyal customer", "first order"]


def mixed_frame(n: int = 1200, seed: int = 3) -> pd.DataFrame:
    """Every kind of column, small enough for a fast run."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 900, n)
    score = rng.normal(size=n)
    city = rng.integers(0, 150, n)
    label = (score + 0.003 * days + 0.3 * (city % 3 == 0) + rng.normal(0, 0.8, n)) > 1.3
    notes = [f"{WORDS[rng.integers(len(WORDS))]}, {WORDS[rng.integers(len(WORDS))]} "
             f"({rng.integers(1, 40)})" for _ in range(n)]
    frame = pd.DataFrame({
        "order_id": rng.permutation(n) + 10_000,
        "score": score.round(4),
        "visits": rng.poisson(3, n),
        "segment": rng.choice(["a", "b", "c"], n),
        "city": [f"city{c}" for c in city],
        "since": pd.Series(np.datetime64("2021-01-01") + days.astype("timedelta64[D]"))
                  .dt.strftime("%d/%m/%Y"),
        "notes": notes,
        "country": "NL",
        "refunded": np.where(label, "yes", "no"),  # the outcome itself, recorded later
        "label": np.where(label, "churn", "stay"),
    })
    flip = rng.random(n) < 0.005
    frame.loc[flip, "refunded"] = np.where(frame.loc[flip, "refunded"] == "yes", "no", "yes")
    frame.loc[rng.random(n) < 0.1, "score"] = np.nan
    frame.loc[rng.random(n) < 0.1, "notes"] = np.nan
    return frame


EXPECTED_ROLES = {
    "order_id": "identifier", "score": "numeric", "visits": "numeric", "segment": "categorical",
    "city": "high_cardinality", "since": "datetime", "notes": "text", "country": "constant",
    "refunded": "leak",
}


def test_classify_columns_gives_every_column_its_role():
    roles = classify_columns(mixed_frame(), "label", "classification", seed=0)
    assert {name: info["role"] for name, info in roles.items()} == EXPECTED_ROLES
    assert roles["since"]["format"] == "%d/%m/%Y"
    assert "target" in roles["refunded"]["why"] and roles["refunded"]["score"] >= 0.98
    assert roles["score"]["missing"] > 0.05
    plan = ColumnPlan.from_roles(roles)
    assert set(plan.dropped) == {"order_id", "country", "refunded"}
    assert plan.dates == {"since": "%d/%m/%Y"} and plan.text == ("notes",)


def test_dates_with_missing_values_and_a_missingness_leak():
    frame = mixed_frame(800)
    # Only the leaving customers have a cancellation date: whether it is there is the target.
    frame["cancelled_on"] = np.where(frame["label"] == "churn", "2023-02-01", None)
    frame.loc[frame.sample(frac=0.05, random_state=1).index, "since"] = np.nan
    roles = classify_columns(frame, "label", "classification")
    assert roles["since"]["role"] == "datetime"
    assert roles["cancelled_on"]["role"] == "leak"
    assert "missing" in roles["cancelled_on"]["why"]


def test_regression_leak_is_a_near_copy_of_the_target():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    frame = pd.DataFrame({"x": rng.normal(size=500), "copy": y + rng.normal(0, 0.01, 500),
                          "y": y})
    roles = classify_columns(frame, "y", "regression")
    assert roles["copy"]["role"] == "leak" and roles["x"]["role"] == "numeric"


def test_bundled_datasets_keep_their_columns():
    from deepthinker_nb.workflow.datasets import CATALOGUE

    for dataset in CATALOGUE.values():
        frame = pd.read_csv(dataset.path)
        roles = classify_columns(frame, dataset.target, dataset.task_type)
        dropped = {n: r["role"] for n, r in roles.items()
                   if r["role"] in ("identifier", "constant", "leak")}
        assert not dropped, (dataset.name, dropped)


def test_a_run_researches_the_columns_in_the_kernel_and_the_coder_follows(tmp_path, write_csv):
    path = write_csv(mixed_frame())
    config = DataConfig(path, target_column="label", execution_timeout=120)
    result = WorkflowRunner(config, IterationConfig(max_iterations=1), runs_dir=tmp_path,
                            pool_size=2, simulate=False, report=False).run("predict label")
    # The kernel's classification reached the research summary and the coder.
    facts = result.research.facts
    assert {name: info["role"] for name, info in facts["columns"].items()} == EXPECTED_ROLES
    text = result.research.to_markdown()
    assert "`since`" in text and "`notes`" in text and "dropped `refunded`" in text
    research = nbformat.read(result.run_dir / "research.ipynb", as_version=4)
    assert research.cells[-1].cell_type == "markdown"
    assert "Research summary" in research.cells[-1].source
    assert any("classify_columns" in c.source for c in research.cells)
    # The coder's cells: the dropped columns with their reasons, dates, text, encodings.
    record = result.iterations[0]
    assert record.ok, record.error
    code = "\n".join(record.cells)
    assert "#   order_id: identifier" in code and "#   refunded: leak" in code
    assert "#   country: constant" in code
    assert "{'since': '%d/%m/%Y'}.items() if c in X.columns}" in code
    assert 'TfidfVectorizer(' in code and "text_features = ['notes']" in code
    assert "high_cardinality_features = ['city']" in code and "TargetEncoder(" in code
    # Without the leaking column the model is good, not perfect.
    assert 0.6 < record.metrics["balanced_accuracy"] < 0.95
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["research"]["summary"]["facts"]["columns"]["refunded"]["role"] == "leak"


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mixed.csv"
    mixed_frame().to_csv(path, index=False)
    return load_and_split(DataConfig(path, target_column="label"))


def test_without_research_the_profile_still_drops_identifiers_and_constants(split):
    plan = ColumnPlan.from_profile(split.profile)
    assert set(plan.dropped) >= {"order_id", "country"}
    # Dates and text are not known from the profile: they are many-valued categories.
    assert "city" in plan.high_cardinality and "notes" in plan.high_cardinality
