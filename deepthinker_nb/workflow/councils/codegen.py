"""Readable scikit-learn cells for the offline coder.

Every cell reads data only through the injected parameters (``DATA_PATH``, ``TEST_FEATURES_PATH``,
``PREDICTIONS_PATH``, ``TARGET``, ``TASK_TYPE``, ``RANDOM_SEED``), so it passes the scanner and runs
unchanged in a local or a Docker kernel. Every model takes ``random_state=RANDOM_SEED``, so
re-running the cells reproduces the predictions exactly.

The cells follow the research's column roles (:class:`~.columns.ColumnPlan`): identifiers,
constants and leaking columns are dropped with a note, dates become calendar parts and the days
elapsed, free text becomes TF-IDF features with a bounded vocabulary, high-cardinality
categoricals are target-encoded inside the pipeline (so each cross-validation fold fits its own
encoding), and trees get native categories. Without a column plan the cells split the columns
by dtype in the kernel (numbers, everything else one-hot).

What the cells cost is part of the spec: model selection runs on at most ``cv_rows`` rows
(a stratified sample on large data), forests draw ``tree_rows`` rows per tree, boosting stops
early on a validation split, and the final model is fitted on every training row.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from deepthinker_nb.workflow.councils.columns import ColumnPlan

STAGES = ("linear", "random_forest", "gradient_boosting", "ensemble", "search")
MODEL_NAMES = {
    ("classification", "linear"): "logistic_regression",
    ("regression", "linear"): "ridge",
    ("classification", "random_forest"): "random_forest",
    ("regression", "random_forest"): "random_forest",
    ("classification", "gradient_boosting"): "gradient_boosting",
    ("regression", "gradient_boosting"): "gradient_boosting",
    ("classification", "ensemble"): "voting_ensemble",
    ("regression", "ensemble"): "voting_ensemble",
}


@dataclass(frozen=True)
class ModelSpec:
    """What the coder decided; the cells are a pure function of it."""

    task_type: str
    stage: str
    family: str = "linear"
    """For ``search``: the family whose hyperparameters are searched."""
    balanced: bool = False
    """Balanced class weights (imbalanced classification)."""
    robust: bool = False
    """Cast categorical columns to text and drop troublesome columns (after an error)."""
    drop_columns: tuple[str, ...] = field(default_factory=tuple)
    """Columns left out because an earlier attempt failed on them."""
    cv_folds: int = 3
    columns: ColumnPlan | None = None
    """The research's column roles; None: numbers vs the rest, by dtype, in the kernel."""
    cv_rows: int | None = None
    """Cross-validation (and the search) on at most this many training rows."""
    tree_rows: int | None = None
    """Rows each tree of a random forest draws (None: as many as there are)."""
    fit_rows: int | None = None
    """The final model on a sample of this many rows (after the kernel ran out of memory)."""
    text_vocabulary: int = 100
    """TF-IDF terms kept per text column for trees (linear models get four times as many)."""
    boosting_rounds: int = 100
    """Most boosting iterations (early stopping usually ends sooner on large data)."""
    early_stopping: bool = False
    """Boosting keeps 10% of its rows to stop when they stop improving."""
    n_jobs: int = 1
    """Processes of a random forest (results do not depend on it)."""
    threshold: bool = False
    """Binary classification: pick the decision threshold that maximises balanced accuracy on
    out-of-fold probabilities (the cross-validation cell then feeds the predictions)."""

    @property
    def label(self) -> str:
        name = (f"search:{MODEL_NAMES[(self.task_type, self.family)]}" if self.stage == "search"
                else MODEL_NAMES[(self.task_type, self.stage)])
        return name + ("+robust" if self.robust else "")

    @property
    def model_family(self) -> str:
        return self.family if self.stage == "search" else self.stage


# -- load ------------------------------------------------------------------------------------------
def load_cell(spec: ModelSpec) -> str:
    columns = spec.columns
    lines = [
        "# Load the training rows and the test features through the injected parameters.",
        "import os",
        "import warnings",
        "",
        "import numpy as np",
        "import pandas as pd",
        "from threadpoolctl import threadpool_limits",
        "",
        "# Native threads (OpenMP, BLAS) on all CPUs but one: the host and the kernels warming",
        "# up keep one, and threads that wait for a busy CPU slow boosting down many times over.",
        "threadpool_limits(max(1, len(os.sched_getaffinity(0)) - 1))",
        'warnings.filterwarnings("ignore", message="Could not find the number of physical cores")',
        "",
        "train = pd.read_csv(DATA_PATH)",
        "test_features = pd.read_csv(TEST_FEATURES_PATH)",
        "X = train.drop(columns=[TARGET])",
        "y = train[TARGET]",
        'X_test = test_features.drop(columns=["row_id"])',
        "del train",
    ]
    if _tunes_threshold(spec):
        lines.append("threshold = None  # the decision threshold, chosen below")
    dropped = dict(columns.dropped) if columns is not None else {}
    for name in spec.drop_columns:
        dropped.setdefault(name, "the previous attempt failed on it")
    if dropped:
        lines += ["", "# Left out, with the reason:"]
        lines += [f"#   {name}: {why}" for name, why in dropped.items()]
        lines += [
            f"drop_columns = {list(dropped)!r}",
            "X = X.drop(columns=[c for c in drop_columns if c in X.columns])",
            "X_test = X_test[X.columns]",
            'print("left out:", ", ".join(drop_columns))',
        ]
    if columns is not None and columns.dates:
        lines += [
            "",
            "# Dates become calendar parts and the days elapsed since the earliest training",
            "# date (a constant taken from the training rows only).",
            f"date_formats = {{c: f for c, f in {dict(columns.dates)!r}.items() "
            "if c in X.columns}",
            "for column, fmt in date_formats.items():",
            "    train_dates = pd.to_datetime(X[column], format=fmt, errors=\"coerce\")",
            "    origin = train_dates.min()",
            "    for frame in (X, X_test):",
            "        dates = pd.to_datetime(frame[column], format=fmt, errors=\"coerce\")",
            '        frame[column + "_year"] = dates.dt.year',
            '        frame[column + "_month"] = dates.dt.month',
            '        frame[column + "_dayofweek"] = dates.dt.day_of_week',
            '        frame[column + "_days"] = (dates - origin).dt.days',
            "X = X.drop(columns=list(date_formats))",
            "X_test = X_test.drop(columns=list(date_formats))",
        ]
    if columns is not None and columns.text:
        lines += [
            "",
            "# Free text: missing notes are empty text.",
            f"for column in [c for c in {list(columns.text)!r} if c in X.columns]:",
            '    X[column] = X[column].fillna("").astype(str)',
            '    X_test[column] = X_test[column].fillna("").astype(str)',
        ]
    if spec.robust:
        lines += [
            "",
            "# Robust mode: text for every non-numeric column, no infinities in numeric ones.",
            'text_columns = X.select_dtypes(exclude="number").columns',
            "X[text_columns] = X[text_columns].astype(str)",
            "X_test[text_columns] = X_test[text_columns].astype(str)",
            "X = X.replace([np.inf, -np.inf], np.nan)",
            "X_test = X_test.replace([np.inf, -np.inf], np.nan)",
        ]
    lines += ["", *_cv_sample(spec)]
    lines += ['print(f"train: {X.shape[0]} rows x {X.shape[1]} features; '
              'test: {X_test.shape[0]} rows; "',
              '      f"model selection on {len(X_cv)} rows")']
    return "\n".join(lines)


def _cv_sample(spec: ModelSpec) -> list[str]:
    """``X_cv, y_cv``: the rows model selection runs on."""
    if spec.cv_rows is None:
        return ["# Model selection (cross-validation) uses every training row.",
                "X_cv, y_cv = X, y"]
    stratify = "y if y.value_counts().min() >= 2 else None" if (
        spec.task_type == "classification") else "None"
    return [
        f"# Model selection runs on at most {spec.cv_rows:,} rows (a stratified sample on large",
        "# data: enough to compare models, and it keeps each cell within its time limit).",
        "# The final model is fitted on every training row.",
        f"cv_rows = {spec.cv_rows}",
        "if len(X) > cv_rows:",
        "    from sklearn.model_selection import train_test_split",
        "",
        "    X_cv, _, y_cv, _ = train_test_split(X, y, train_size=cv_rows, "
        "random_state=RANDOM_SEED,",
        f"                                        stratify={stratify})",
        "else:",
        "    X_cv, y_cv = X, y",
    ]


# -- preprocessing ---------------------------------------------------------------------------------
def preprocess_cell(spec: ModelSpec) -> str:
    family = spec.model_family
    columns = spec.columns
    linear = family in ("linear", "ensemble")
    trees = family != "linear"
    # Without a column plan the kernel decides which columns have many values.
    encoding = columns is None or bool(columns.high_cardinality)
    text = columns is not None and bool(columns.text)
    encoders = (["OneHotEncoder", "StandardScaler"] if linear else []) + (
        ["OrdinalEncoder"] if trees else []) + (["TargetEncoder"] if encoding else [])
    lines = ["# Preprocessing by column role, fitted inside the pipeline on training rows only.",
             "from sklearn.compose import ColumnTransformer"]
    if text:
        lines.append("from sklearn.feature_extraction.text import TfidfVectorizer")
    if linear:
        lines.append("from sklearn.impute import SimpleImputer")
    lines += ["from sklearn.pipeline import Pipeline, make_pipeline",
              f"from sklearn.preprocessing import {', '.join(sorted(set(encoders)))}", ""]
    if columns is None:
        lines += [
            'numeric_features = X.select_dtypes(include="number").columns.tolist()',
            "other_features = [c for c in X.columns if c not in numeric_features]",
            "categorical_features = [c for c in other_features if X[c].nunique() <= 30]",
            "high_cardinality_features = [c for c in other_features",
            "                             if c not in categorical_features]",
            "text_features = []",
        ]
    else:
        date_parts = [f"{c}_{part}" for c in columns.dates
                      for part in ("year", "month", "dayofweek", "days")]
        lines += [
            f"numeric_features = {[*columns.numeric, *date_parts]!r}",
            f"categorical_features = {list(columns.categorical)!r}",
            f"high_cardinality_features = {list(columns.high_cardinality)!r}",
            f"text_features = {list(columns.text)!r}",
        ]
    if spec.drop_columns:
        lines += [
            "numeric_features = [c for c in numeric_features if c in X.columns]",
            "categorical_features = [c for c in categorical_features if c in X.columns]",
            "high_cardinality_features = [c for c in high_cardinality_features if c in X.columns]",
            "text_features = [c for c in text_features if c in X.columns]",
        ]
    target_type = "continuous" if spec.task_type == "regression" else "auto"
    encoder = f'TargetEncoder(target_type="{target_type}", **encoder_folds)'
    if encoding:
        folds = "KFold" if spec.task_type == "regression" else "StratifiedKFold"
        lines += [
            "",
            "# The target encoder's cross-fitting folds, shuffled with the seed (a splitter since",
            "# scikit-learn 1.9, shuffle/random_state before).",
            "import sklearn",
            f"from sklearn.model_selection import {folds}",
            "",
            'if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 9):',
            f'    encoder_folds = {{"cv": {folds}(5, shuffle=True, random_state=RANDOM_SEED)}}',
            "else:",
            '    encoder_folds = {"shuffle": True, "random_state": RANDOM_SEED}',
        ]

    def tfidf(vocabulary: int) -> list[str]:
        if not text:
            return ["]"]
        return ["] + [",
                f'    ("text_" + column, TfidfVectorizer(max_features={vocabulary}, min_df=3,',
                '                                       sublinear_tf=True, dtype=np.float32), '
                "column)",
                "    for column in text_features",
                "]"]

    if linear:
        vocabulary = 4 * spec.text_vocabulary
        lines += [
            "",
            *_comment("Linear models: numbers imputed and scaled; categories (missing as its "
                      "own) one-hot"
                      + ("; many-valued categories target-encoded (cross-fitted inside each "
                         "fold)" if encoding else "")
                      + (f"; text as TF-IDF of at most {vocabulary} terms (sparse)." if text
                         else ".")),
            f"{'linear_preprocess' if trees else 'preprocess'} = ColumnTransformer([",
            '    ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),',
            "     numeric_features),",
            '    ("categorical", make_pipeline(',
            '        SimpleImputer(strategy="constant", fill_value="(missing)"),',
            '        OneHotEncoder(handle_unknown="ignore", min_frequency=5)), '
            "categorical_features),",
        ]
        if encoding:
            lines += ['    ("high_cardinality", make_pipeline(',
                      f"        {encoder}, StandardScaler()),",
                      "     high_cardinality_features),"]
        lines += tfidf(vocabulary)
        lines[-1] += ")"
    if trees:
        lines += [
            "",
            *_comment("Trees: numbers as they are (missing values handled natively); "
                      "categories as ordinal codes, which histogram gradient boosting treats as "
                      "native categories"
                      + ("; many-valued categories target-encoded (cross-fitted inside each "
                         "fold)" if encoding else "")
                      + (f"; text as TF-IDF of at most {spec.text_vocabulary} terms (dense)."
                         if text else ".")),
            f"{'tree_preprocess' if linear else 'preprocess'} = ColumnTransformer([",
            '    ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", '
            "unknown_value=np.nan,",
            "                                   encoded_missing_value=np.nan), "
            "categorical_features),",
            '    ("numeric", "passthrough", numeric_features),',
        ]
        if encoding:
            lines += [f'    ("high_cardinality", {encoder},', "     high_cardinality_features),"]
        lines += tfidf(spec.text_vocabulary)
        lines[-1] += ", sparse_threshold=0)"
        lines += ["# The ordinal codes come first: these are the native categorical features.",
                  "categorical_mask = list(range(len(categorical_features)))"]
    lines += ['print(f"{len(numeric_features)} numeric, {len(categorical_features)} categorical, "',
              '      f"{len(high_cardinality_features)} high-cardinality, "',
              '      f"{len(text_features)} text features")']
    return "\n".join(lines)


# -- models ----------------------------------------------------------------------------------------
def _estimator(spec: ModelSpec, family: str) -> tuple[list[str], str]:
    """(import lines, constructor expression) of one model family."""
    classification = spec.task_type == "classification"
    weight = ', class_weight="balanced"' if classification and spec.balanced else ""
    if family == "linear":
        if classification:
            return (["from sklearn.linear_model import LogisticRegression"],
                    f"LogisticRegression(max_iter=2000{weight}, random_state=RANDOM_SEED)")
        return ["from sklearn.linear_model import Ridge"], "Ridge(alpha=1.0)"
    if family == "random_forest":
        cls = "RandomForestClassifier" if classification else "RandomForestRegressor"
        forest_weight = weight
        # A share of the rows, so that a cross-validation fold draws proportionally fewer.
        rows = (f", max_samples=min(1.0, {spec.tree_rows} / len(X))" if spec.tree_rows
                else "")
        return ([f"from sklearn.ensemble import {cls}"],
                f"{cls}(n_estimators=100, min_samples_leaf=3{rows}{forest_weight}, "
                f"n_jobs={spec.n_jobs}, random_state=RANDOM_SEED)")
    if family == "gradient_boosting":
        cls = ("HistGradientBoostingClassifier" if classification
               else "HistGradientBoostingRegressor")
        # Large data: more rounds, stopped early on 10% of the rows; small data: fewer,
        # smaller trees and no rows held back.
        stopping = ("learning_rate=0.1, max_leaf_nodes=31, early_stopping=True, "
                    "validation_fraction=0.1, n_iter_no_change=20" if spec.early_stopping
                    else "learning_rate=0.05, max_leaf_nodes=15, early_stopping=False")
        return ([f"from sklearn.ensemble import {cls}"],
                f"{cls}({stopping}, max_iter={spec.boosting_rounds}, "
                f"categorical_features=categorical_mask{weight}, random_state=RANDOM_SEED)")
    imports = [line for f in ("linear", "random_forest", "gradient_boosting")
               for line in _estimator(spec, f)[0]]
    voter = "VotingClassifier" if classification else "VotingRegressor"
    soft = ', voting="soft"' if classification else ""
    return ([*imports, f"from sklearn.ensemble import {voter}"],
            f'{voter}([("linear", linear_model), ("forest", forest), ("boosting", boosting)]'
            f"{soft})")


_GRIDS = {
    ("classification", "linear"): {"model__C": [0.1, 1.0, 10.0]},
    ("regression", "linear"): {"model__alpha": [0.1, 1.0, 10.0, 30.0]},
    ("classification", "random_forest"): {"model__min_samples_leaf": [1, 3],
                                          "model__max_features": ["sqrt", 0.5]},
    ("regression", "random_forest"): {"model__min_samples_leaf": [1, 3],
                                      "model__max_features": [0.33, 1.0]},
    ("classification", "gradient_boosting"): {"model__max_leaf_nodes": [15, 63],
                                              "model__l2_regularization": [0.0, 1.0]},
    ("regression", "gradient_boosting"): {"model__max_leaf_nodes": [15, 63],
                                          "model__l2_regularization": [0.0, 1.0]},
    ("classification", "ensemble"): {"linear__model__C": [0.1, 1.0, 10.0]},
    ("regression", "ensemble"): {"linear__model__alpha": [0.3, 3.0, 30.0]},
}


def grid_size(spec: ModelSpec) -> int:
    """Settings a search tries."""
    size = 1
    for values in _GRIDS[(spec.task_type, spec.model_family)].values():
        size *= len(values)
    return size


def _comment(text: str, width: int = 90) -> list[str]:
    return textwrap.wrap(text, width, initial_indent="# ", subsequent_indent="# ")


def _wrap_call(call: str, width: int = 90, indent: int = 0) -> str:
    """``Name(a, b, ...)`` with its arguments wrapped onto indented lines when it is long
    (``indent``: the column the call starts at)."""
    if len(call) + indent + 12 <= width:
        return call
    name, inner = call[:call.index("(")], call[call.index("(") + 1:-1]
    args, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    pad = " " * (indent + 3)
    lines, line = [], pad
    for arg in args:
        if len(line) + len(arg) + 2 > width and line.strip():
            lines.append(line.rstrip())
            line = pad
        line += f" {arg},"
    lines.append(line.rstrip().rstrip(","))
    return f"{name}(\n" + "\n".join(lines) + f",\n{' ' * indent})"


def scoring(task_type: str) -> str:
    return "balanced_accuracy" if task_type == "classification" else "r2"


def cv_splitter(spec: ModelSpec) -> list[str]:
    if spec.task_type == "classification":
        return [
            "from sklearn.model_selection import StratifiedKFold",
            f"n_splits = int(max(2, min({spec.cv_folds}, y_cv.value_counts().min())))",
            "cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_SEED)",
        ]
    return [
        "from sklearn.model_selection import KFold",
        f"cv = KFold(n_splits={spec.cv_folds}, shuffle=True, random_state=RANDOM_SEED)",
    ]


def model_cell(spec: ModelSpec) -> str:
    family = spec.model_family
    imports, ctor = _estimator(spec, family)
    lines = [f"# Model: {spec.label}. The pipeline is fit on the training rows only.", *imports]
    if family == "ensemble":
        lines.append("")
        for name, prep, member in (("linear_model", "linear_preprocess", "linear"),
                                   ("forest", "tree_preprocess", "random_forest"),
                                   ("boosting", "tree_preprocess", "gradient_boosting")):
            lines += [f"{name} = Pipeline([",
                      f'    ("preprocess", {prep}),',
                      f'    ("model", {_wrap_call(_estimator(spec, member)[1], indent=4)}),',
                      "])"]
        build = _wrap_call(ctor)
    else:
        lines += ["", f"model = {_wrap_call(ctor)}"]
        build = 'Pipeline([("preprocess", preprocess), ("model", model)])'
    if spec.stage == "search":
        grid = _GRIDS[(spec.task_type, family)]
        lines += [
            "from sklearn.model_selection import GridSearchCV",
            *cv_splitter(spec),
            "",
            f"base = {build}",
            f"param_grid = {grid!r}",
            f'search = GridSearchCV(base, param_grid, scoring="{scoring(spec.task_type)}", cv=cv, '
            "n_jobs=1, refit=False)",
            "search.fit(X_cv, y_cv)",
            "pipeline = base.set_params(**search.best_params_)",
            'print("best parameters:", search.best_params_)',
        ]
    else:
        lines += ["", f"pipeline = {build}"]
    if _tunes_threshold(spec):
        lines += threshold_helpers(spec)
    return "\n".join(lines)


def cv_cell(spec: ModelSpec) -> str:
    metric = scoring(spec.task_type)
    if _tunes_threshold(spec):
        return threshold_cv_cell(spec)
    if spec.stage == "search":
        return "\n".join([
            "# Cross-validated score of the best candidate (from the search above).",
            'cv_score = search.best_score_',
            f'print(f"cross-validated {metric}: {{cv_score:.4f}}")',
        ])
    return "\n".join([
        "# Cross-validation on the training rows: an honest estimate before touching the test set.",
        "from sklearn.model_selection import cross_val_score",
        *cv_splitter(spec),
        f'cv_scores = cross_val_score(pipeline, X_cv, y_cv, cv=cv, scoring="{metric}", n_jobs=1)',
        "cv_score = cv_scores.mean()",
        f'print(f"cross-validated {metric}: {{cv_score:.4f}} +/- {{cv_scores.std():.4f}}")',
    ])


def _tunes_threshold(spec: ModelSpec) -> bool:
    return spec.threshold and spec.task_type == "classification"


def threshold_helpers(spec: ModelSpec) -> list[str]:
    """Model-cell lines: the folds and the threshold search, for the cells after it."""
    lines = ["", "# Imbalanced classes: the decision threshold is chosen on out-of-fold",
             "# probabilities (0.5 would favour the majority class).",
             "from sklearn.metrics import balanced_accuracy_score"]
    if spec.stage != "search":
        lines += cv_splitter(spec)
    return [
        *lines,
        "",
        "",
        "def best_threshold(y_true, probabilities):",
        '    """The threshold on the positive class\'s probability with the best balanced',
        '    accuracy, and that accuracy."""',
        "    positive = np.asarray(y_true) == np.unique(y_true)[1]",
        "    candidates = np.unique(np.quantile(probabilities[:, 1], np.linspace(0.01, 0.99, 99)))",
        "    scores = [balanced_accuracy_score(positive, probabilities[:, 1] >= t)",
        "              for t in candidates]",
        "    best = int(np.argmax(scores))",
        "    return float(candidates[best]), float(scores[best])",
    ]


def threshold_cv_cell(spec: ModelSpec) -> str:
    """Cross-validation that also picks the decision threshold (binary, imbalanced classes)."""
    return "\n".join([
        "# Cross-validation on the training rows: out-of-fold probabilities give an honest",
        "# estimate and the decision threshold that maximises balanced accuracy.",
        "from sklearn.model_selection import cross_val_predict",
        "",
        'oof = cross_val_predict(pipeline, X_cv, y_cv, cv=cv, method="predict_proba", '
        "n_jobs=1)",
        "threshold, cv_score = best_threshold(y_cv, oof)",
        "at_half = balanced_accuracy_score(y_cv == np.unique(y_cv)[1], oof[:, 1] >= 0.5)",
        'print(f"cross-validated balanced_accuracy: {cv_score:.4f} at threshold "',
        '      f"{threshold:.3f}, {at_half:.4f} at 0.5")',
    ])


def threshold_cell(spec: ModelSpec) -> str:
    return "\n".join([
        "# The decision threshold for the positive class: the cross-validation above picked",
        "# it; a re-run without that cell (the simulation) picks it the same way, on two",
        "# folds of at most 5,000 rows.",
        "if threshold is None:",
        "    from sklearn.model_selection import StratifiedKFold, cross_val_predict, "
        "train_test_split",
        "",
        "    X_t, y_t = X_cv, y_cv",
        "    if len(X_t) > 5000:",
        "        X_t, _, y_t, _ = train_test_split(X_t, y_t, train_size=5000, "
        "random_state=RANDOM_SEED,",
        "                                          stratify=y_t)",
        "    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=RANDOM_SEED)",
        '    oof = cross_val_predict(pipeline, X_t, y_t, cv=halves, method="predict_proba", '
        "n_jobs=1)",
        "    threshold, _ = best_threshold(y_t, oof)",
        'print(f"decision threshold for {np.unique(y_cv)[1]!r}: {threshold:.3f}")',
    ])


def predict_cell(spec: ModelSpec) -> str:
    if spec.fit_rows:
        stratify = "y if y.value_counts().min() >= 2 else None" if (
            spec.task_type == "classification") else "None"
        lines = [
            f"# Fit on a sample of {spec.fit_rows:,} training rows (an earlier kernel ran out of",
            "# memory with all of them), predict the test rows, write PREDICTIONS_PATH.",
            f"fit_rows = {spec.fit_rows}",
            "if len(X) > fit_rows:",
            "    from sklearn.model_selection import train_test_split",
            "",
            "    X, _, y, _ = train_test_split(X, y, train_size=fit_rows,",
            f"                                  random_state=RANDOM_SEED, stratify={stratify})",
            "pipeline.fit(X, y)",
        ]
    else:
        lines = ["# Fit on all training rows, predict the test rows, write PREDICTIONS_PATH.",
                 "pipeline.fit(X, y)"]
    if _tunes_threshold(spec):
        lines += [
            "probabilities = pipeline.predict_proba(X_test)",
            "labels = pipeline.classes_[(probabilities[:, 1] >= threshold).astype(int)]",
            'predictions = pd.DataFrame({"row_id": test_features["row_id"], '
            '"prediction": labels})',
            "for i, label in enumerate(pipeline.classes_):",
            '    predictions[f"proba_{label}"] = probabilities[:, i]',
            "predictions.to_csv(PREDICTIONS_PATH, index=False)",
            'print(f"wrote {len(predictions)} predictions")',
        ]
        return "\n".join(lines)
    lines += [
        'predictions = pd.DataFrame({"row_id": test_features["row_id"],',
        '                            "prediction": pipeline.predict(X_test)})',
    ]
    if spec.task_type == "classification":
        lines += [
            'if hasattr(pipeline, "predict_proba"):',
            "    probabilities = pipeline.predict_proba(X_test)",
            "    for i, label in enumerate(pipeline.classes_):",
            '        predictions[f"proba_{label}"] = probabilities[:, i]',
        ]
    lines += [
        "predictions.to_csv(PREDICTIONS_PATH, index=False)",
        'print(f"wrote {len(predictions)} predictions")',
    ]
    return "\n".join(lines)


FEATURE_IMPORTANCE_FILE = "feature_importance.csv"
"""Written beside PREDICTIONS_PATH (``feature,importance``); the host reads it for the report."""
IMPORTANCE_SAMPLE_ROWS = 500
"""Permutation importance (models without importances or coefficients) on this many rows."""


def importance_cell(spec: ModelSpec) -> str:
    """Feature importance of the fitted model, for the report: the model's own importances or
    absolute coefficients under the pipeline's output feature names, else permutation
    importance of the input columns on a sample of training rows (cheap: 3 repeats)."""
    metric = scoring(spec.task_type)
    return "\n".join([
        "# Feature importance of the fitted model (for the run's report): its own importances",
        "# or absolute coefficients, else permutation importance on a sample of training rows.",
        "estimator = pipeline.steps[-1][1] if hasattr(pipeline, \"steps\") else pipeline",
        "values = getattr(estimator, \"feature_importances_\", None)",
        "if values is None and hasattr(estimator, \"coef_\"):",
        "    values = np.abs(np.asarray(estimator.coef_, dtype=float))",
        "    values = values.mean(axis=0) if values.ndim > 1 else values",
        "names = None",
        "if values is not None and hasattr(pipeline, \"steps\"):",
        "    try:",
        "        names = [str(n) for n in pipeline[:-1].get_feature_names_out()]",
        "    except (AttributeError, ValueError):",
        "        names = None",
        "if names is None or len(names) != len(values):",
        "    from sklearn.inspection import permutation_importance",
        "",
        f"    sample = X.sample(min(len(X), {IMPORTANCE_SAMPLE_ROWS}), random_state=RANDOM_SEED)",
        "    permuted = permutation_importance(",
        "        pipeline, sample, y.loc[sample.index], n_repeats=3, random_state=RANDOM_SEED,",
        f'        scoring="{metric}", n_jobs=1,',
        "    )",
        "    names, values = [str(c) for c in sample.columns], permuted.importances_mean",
        'importance = pd.DataFrame({"feature": names,',
        '                           "importance": np.asarray(values, dtype=float)})',
        'importance = importance.sort_values("importance", ascending=False)',
        "importance.to_csv(os.path.join(os.path.dirname(PREDICTIONS_PATH), "
        f'"{FEATURE_IMPORTANCE_FILE}"), index=False)',
        'print("most important:", ", ".join(importance["feature"].head(5)))',
    ])


CV_CELL = 3
"""Index of the cross-validation cell in :func:`cells_for` (diagnostic only)."""


def diagnostic_cells(spec: ModelSpec) -> tuple[int, ...]:
    """The cells that only report (the simulation's re-runs skip them). The feature importance
    cell is cheap and stays: a scenario's work dir gets its own file, which no one reads."""
    return (CV_CELL,)


def cells_for(spec: ModelSpec) -> list[str]:
    cells = [load_cell(spec), preprocess_cell(spec), model_cell(spec), cv_cell(spec)]
    if _tunes_threshold(spec):
        cells.append(threshold_cell(spec))
    return [*cells, predict_cell(spec), importance_cell(spec)]
