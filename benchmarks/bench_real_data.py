"""The workflow on real-looking data, side by side with scikit-learn's default gradient boosting.

    .venv/bin/python benchmarks/bench_real_data.py [--datasets customers,fraud,events]
        [--iterations 3] [--data-dir DIR] [--keep]

Three datasets, generated with a fixed seed (no downloads):

- ``customers``: the 20,000-row customer table of issue 13: numbers, two categoricals, a signup
  date stored as text (1,825 distinct days), free-text notes, a customer id, missing values and
  a 9% positive target. What decides churn hides in the date (recent signups leave), in the
  notes (words such as "cancel" or "competitor") and in interactions of the numbers.
- ``fraud``: 60,000 card payments, 1.4% fraudulent (strong imbalance): numbers, a
  low-cardinality category and a merchant id with 600 values (some merchants attract fraud).
- ``events``: 1,000,000 rows x 30 columns (24 numbers, 3 categoricals, a high-cardinality
  campaign, an event id and the target), 34% positive: the size test.

For each: ``deepthinker-nb run --data FILE --max-iterations N`` (local kernels, every other
setting at its default) timed from the outside, its best held-out metric (balanced accuracy,
computed by the host), and the same metric for a ``HistGradientBoostingClassifier`` with
scikit-learn's defaults on the same split (non-numeric columns ordinal-encoded; those with at
most 255 values as native categories). Also: lines on stderr that are not the workflow's own
progress lines (library warnings or logs: should be 0).

Targets: on every dataset the workflow's best is at least the baseline; ``customers`` finishes
3 iterations in under 90 s. The load average is printed beside the numbers: on the shared
2-CPU machine other processes stretch every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 13

_WORDS_GOOD = ["happy with the service", "asked about an upgrade", "renewed the contract",
               "praised support", "added a second line", "paid early", "no issues reported"]
_WORDS_BAD = ["wants to cancel", "complaint about billing", "mentioned a competitor offer",
              "angry about outage", "asked how to cancel", "price too high complaint"]
_WORDS_NEUTRAL = ["called about billing", "changed address", "updated payment details",
                  "asked about roaming", "requested invoice copy", "password reset",
                  "moved to paperless billing", "asked about coverage"]


def customers(n: int = 20_000, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2019-01-01")
    days = rng.integers(0, 1825, n)
    signup = start + days.astype("timedelta64[D]")
    recency = days / 1825.0                       # 1 = signed up recently
    plan = rng.choice(["basic", "standard", "premium", "family"], n, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice(["north", "south", "east", "west", "central", "islands"], n)
    age = rng.integers(18, 85, n).astype(float)
    tenure = np.maximum(1, (60 * (1 - recency) + rng.normal(0, 4, n)).round())
    monthly = np.round(15 + 70 * rng.random(n) + np.select(
        [plan == "premium", plan == "family"], [30, 45], 0), 2)
    calls = rng.poisson(1.2, n)
    income = np.round(rng.lognormal(10.4, 0.5, n), -2)
    usage_gb = np.round(rng.gamma(2.0, 8.0, n), 1)
    mood = rng.random(n)
    notes_kind = np.where(mood < 0.12, 2, np.where(mood < 0.45, 1, 0))  # 2 bad, 1 good, 0 neutral
    logit = (-3.8 + 2.1 * recency ** 2 + 1.3 * (calls >= 3) + 0.9 * (monthly > 80)
             * (plan == "basic") + 1.6 * (notes_kind == 2) - 0.9 * (notes_kind == 1)
             + 0.6 * (region == "islands") - 0.012 * (age - 50) + 0.8 * (usage_gb < 3))
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    notes = []
    for kind in notes_kind:
        pool = _WORDS_BAD if kind == 2 else _WORDS_GOOD if kind == 1 else _WORDS_NEUTRAL
        first = pool[rng.integers(len(pool))]
        second = _WORDS_NEUTRAL[rng.integers(len(_WORDS_NEUTRAL))]
        notes.append(f"{first}; {second}" + (f" ({10 * rng.integers(1, 7)} min)"
                                             if rng.random() < 0.5 else ""))
    frame = pd.DataFrame({
        "customer_id": rng.permutation(n) + 100_000,
        "age": age, "tenure_months": tenure, "monthly_charges": monthly,
        "support_calls": calls, "income": income, "usage_gb": usage_gb,
        "plan": plan, "region": region,
        "signup_date": pd.Series(signup).dt.strftime("%Y-%m-%d"),
        "notes": notes,
        "churned": np.where(churned, "yes", "no"),
    })
    for column, rate in (("income", 0.15), ("usage_gb", 0.05), ("region", 0.04),
                         ("notes", 0.2), ("age", 0.03)):
        frame.loc[rng.random(n) < rate, column] = np.nan
    return frame


def fraud(n: int = 60_000, seed: int = SEED + 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    merchants = 600
    risky = rng.random(merchants) < 0.05
    merchant = rng.zipf(1.3, n) % merchants
    amount = np.round(rng.lognormal(3.5, 1.1, n), 2)
    hour = rng.integers(0, 24, n)
    distance = np.round(rng.exponential(12, n), 2)
    attempts = rng.poisson(0.3, n)
    account_age = rng.integers(1, 3650, n)
    channel = rng.choice(["chip", "online", "swipe", "contactless"], n, p=[0.4, 0.3, 0.1, 0.2])
    logit = (-5.6 + 2.4 * risky[merchant] + 0.9 * np.log1p(amount / 200)
             + 1.2 * ((hour < 5) | (hour > 22)) + 0.7 * np.log1p(distance / 20)
             + 0.9 * attempts + 1.1 * (channel == "online") - 0.0004 * account_age)
    is_fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({
        "amount": amount, "hour": hour, "distance_km": distance, "pin_attempts": attempts,
        "account_age_days": account_age, "channel": channel,
        "merchant": [f"M{m:04d}" for m in merchant],
        "balance_after": np.round(rng.normal(2500, 900, n), 2),
        "is_fraud": is_fraud.astype(int),
    })
    frame.loc[rng.random(n) < 0.05, "distance_km"] = np.nan
    return frame


def events(n: int = 1_000_000, seed: int = SEED + 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, 24)).astype(np.float32)
    device = rng.choice(["ios", "android", "web"], n, p=[0.35, 0.45, 0.2])
    country = rng.choice([f"c{i}" for i in range(12)], n)
    tier = rng.choice(["free", "plus", "pro"], n, p=[0.7, 0.2, 0.1])
    campaign_ids = rng.integers(0, 400, n)
    campaign_effect = rng.normal(0, 0.8, 400)
    logit = (-1.3 + 0.9 * numbers[:, 0] - 0.7 * numbers[:, 1] + 0.6 * numbers[:, 2] * numbers[:, 3]
             + 0.8 * np.sin(2 * numbers[:, 4]) + 0.5 * (numbers[:, 5] > 1)
             + 0.4 * np.abs(numbers[:, 6]) + 0.6 * (device == "ios") - 0.4 * (tier == "free")
             + campaign_effect[campaign_ids])
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(np.round(numbers, 4), columns=[f"f{i:02d}" for i in range(24)])
    frame.insert(0, "event_id", np.arange(n) + 5_000_000)
    frame["device"] = device
    frame["country"] = country
    frame["tier"] = tier
    frame["campaign"] = [f"cmp{c}" for c in campaign_ids]
    frame["converted"] = converted.astype(int)
    return frame


DATASETS = {"customers": (customers, "churned"), "fraud": (fraud, "is_fraud"),
            "events": (events, "converted")}


def write(name: str, out_dir: Path) -> Path:
    """The dataset as CSV in ``out_dir`` (kept: generating a million rows takes a while)."""
    make, _target = DATASETS[name]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    if not path.exists():
        make().to_csv(path, index=False)
    return path


def baseline(path: Path, target: str, seed: int = 42) -> tuple[dict[str, float], float]:
    """(held-out metrics, fit seconds) of scikit-learn's default HistGradientBoosting on the
    workflow's own split of ``path``, scored by the workflow's own MetricComputer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder
    from threadpoolctl import threadpool_limits

    from deepthinker_nb.config import DataConfig
    from deepthinker_nb.workflow.data import load_and_split
    from deepthinker_nb.workflow.metrics import MetricComputer

    split = load_and_split(DataConfig(path, target_column=target, random_seed=seed))
    X = split.train.drop(columns=[target])
    y = split.train[target]
    X_test = split.test_features.drop(columns=["row_id"])
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numbers = [c for c in X.columns if c not in text]
    encode = ColumnTransformer([
        ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                encoded_missing_value=np.nan), text),
        ("numbers", "passthrough", numbers)])
    native = [X[c].nunique() <= 255 for c in text] + [False] * len(numbers)
    model = make_pipeline(encode, HistGradientBoostingClassifier(categorical_features=native,
                                                                  random_state=seed))
    started = time.perf_counter()
    # The workflow's cells leave one CPU to the host; so does the baseline (it changes the
    # time, not the model).
    with threadpool_limits(max(1, len(os.sched_getaffinity(0)) - 1)):
        model.fit(X, y)
        predictions = pd.DataFrame({"row_id": split.test_features["row_id"],
                                    "prediction": model.predict(X_test)})
        for i, label in enumerate(model.classes_):
            predictions[f"proba_{label}"] = model.predict_proba(X_test)[:, i]
    seconds = time.perf_counter() - started
    computer = MetricComputer(split.task_type, split.test_labels, split.classes)
    return computer.compute(predictions).metrics, seconds


def run_workflow(path: Path, out: Path, iterations: int) -> dict:
    cli = Path(sys.executable).with_name("deepthinker-nb")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "deepthinker_nb.cli"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    limit = ["--max-iterations", str(iterations)] if iterations else []
    done = subprocess.run([*command, "run", "--data", str(path), *limit, "--out", str(out)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    stray = [line for line in done.stderr.splitlines() if not line.startswith("[")]
    best = next((i for i in manifest["iterations"]
                 if i["index"] == manifest["best_iteration"]), None)
    return {"wall": wall, "load": load, "status": manifest["status"], "exit": done.returncode,
            "best": manifest["metrics"].get("balanced_accuracy", float("nan")),
            "auc": manifest["metrics"].get("roc_auc", float("nan")),
            "model": best["model"] if best else "-", "timings": manifest["timings"],
            "iterations": [(i["model"], i["status"]) for i in manifest["iterations"]],
            "stray": stray, "reproduced": manifest.get("reproduced"),
            "cell_timeout": manifest.get("cell_timeout"), "run_dir": str(run_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--iterations", type=int, default=3,
                        help="--max-iterations of each run (0: the CLI's default)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir())
                        / "deepthinker-bench-data")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args = parser.parse_args()
    rows = []
    for name in args.datasets.split(","):
        path = write(name, args.data_dir)
        shape = pd.read_csv(path, nrows=1).shape[1]
        out = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        result = run_workflow(path, out, args.iterations)
        base, base_seconds = baseline(path, DATASETS[name][1])
        rows.append((name, shape, result, base, base_seconds))
        print(f"{name}: {result['status']} in {result['wall']:.1f}s, best "
              f"{result['best']:.4f} ({result['model']}), baseline "
              f"{base['balanced_accuracy']:.4f} (fit {base_seconds:.1f}s); "
              f"iterations {result['iterations']}; phases "
              + ", ".join(f"{k} {v:.0f}s" for k, v in result["timings"].items() if v >= 0.5)
              + f"; cell limit {result['cell_timeout']}s; reproduced {result['reproduced']}",
              flush=True)
        for line in result["stray"][:5]:
            print(f"   stray stderr: {line}")
        if not args.keep:
            subprocess.run(["rm", "-rf", str(out)], check=False)
    print()
    flags = f"--max-iterations {args.iterations}" if args.iterations else "(default flags)"
    print(f"deepthinker-nb run {flags} (local kernels, defaults) vs "
          "HistGradientBoostingClassifier() on the same split; held-out balanced accuracy "
          "(the workflow's metric) and ROC AUC, computed by the host")
    print(f"{'dataset':<10} {'columns':>7} {'wall':>8} {'best':>8} {'baseline':>9} "
          f"{'best-base':>9}  {'AUC':>6} {'base AUC':>8}  {'stray':>5}  {'load':>5}  best model")
    for name, columns, result, base, _seconds in rows:
        balanced = base["balanced_accuracy"]
        print(f"{name:<10} {columns:>7} {result['wall']:>7.1f}s {result['best']:>8.4f} "
              f"{balanced:>9.4f} {result['best'] - balanced:>+9.4f}  {result['auc']:>6.4f} "
              f"{base.get('roc_auc', float('nan')):>8.4f}  {len(result['stray']):>5}  "
              f"{result['load']:>5.2f}  {result['model']}")


if __name__ == "__main__":
    main()
