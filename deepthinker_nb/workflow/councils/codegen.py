"""Readable scikit-learn cells for the offline coder.

Every cell reads data only through the injected parameters (``DATA_PATH``, ``TEST_FEATURES_PATH``,
``PREDICTIONS_PATH``, ``TARGET``, ``TASK_TYPE``, ``RANDOM_SEED``), so it passes the scanner and runs
unchanged in a local or a Docker kernel. Every model takes ``random_state=RANDOM_SEED`` and runs on
one thread, so re-running the cells reproduces the predictions exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    robust: bool = False
    """Cast categorical columns to text and drop troublesome columns (after an error)."""
    drop_columns: tuple[str, ...] = field(default_factory=tuple)
    cv_folds: int = 3

    @property
    def label(self) -> str:
        name = (f"search:{MODEL_NAMES[(self.task_type, self.family)]}" if self.stage == "search"
                else MODEL_NAMES[(self.task_type, self.stage)])
        return name + ("+robust" if self.robust else "")


def load_cell(spec: ModelSpec) -> str:
    lines = [
        "# Load the training rows and the test features through the injected parameters.",
        "import numpy as np",
        "import pandas as pd",
        "",
        "train = pd.read_csv(DATA_PATH)",
        "test_features = pd.read_csv(TEST_FEATURES_PATH)",
        "X = train.drop(columns=[TARGET])",
        "y = train[TARGET]",
        'X_test = test_features.drop(columns=["row_id"])',
    ]
    if spec.drop_columns:
        lines += [
            "",
            "# Columns that broke the previous attempt are left out.",
            f"DROP = {list(spec.drop_columns)!r}",
            "X = X.drop(columns=[c for c in DROP if c in X.columns])",
            "X_test = X_test[X.columns]",
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
    lines.append('print(f"train: {X.shape[0]} rows x {X.shape[1]} features; '
                 'test: {X_test.shape[0]} rows")')
    return "\n".join(lines)


def preprocess_cell(spec: ModelSpec) -> str:
    return "\n".join([
        "# Preprocessing fit to the column types: numeric -> median impute + scale,",
        "# categorical -> most-frequent impute + one-hot (unknown test categories are ignored).",
        "from sklearn.compose import ColumnTransformer",
        "from sklearn.impute import SimpleImputer",
        "from sklearn.pipeline import Pipeline, make_pipeline",
        "from sklearn.preprocessing import OneHotEncoder, StandardScaler",
        "",
        'numeric_features = X.select_dtypes(include="number").columns.tolist()',
        "categorical_features = [c for c in X.columns if c not in numeric_features]",
        "preprocess = ColumnTransformer([",
        '    ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),',
        "     numeric_features),",
        '    ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),',
        '                                  OneHotEncoder(handle_unknown="ignore",',
        "                                                sparse_output=False)),",
        "     categorical_features),",
        "])",
        'print(f"{len(numeric_features)} numeric, "',
        '      f"{len(categorical_features)} categorical features")',
    ])


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
        return ([f"from sklearn.ensemble import {cls}"],
                f"{cls}(n_estimators=100, min_samples_leaf=2{weight}, n_jobs=1, "
                "random_state=RANDOM_SEED)")
    if family == "gradient_boosting":
        cls = "GradientBoostingClassifier" if classification else "GradientBoostingRegressor"
        return ([f"from sklearn.ensemble import {cls}"],
                f"{cls}(n_estimators=150, learning_rate=0.05, max_depth=3, subsample=0.8, "
                "random_state=RANDOM_SEED)")
    parts = [_estimator(spec, f) for f in ("linear", "random_forest", "gradient_boosting")]
    imports = [line for part in parts for line in part[0]]
    voter = "VotingClassifier" if classification else "VotingRegressor"
    soft = ', voting="soft"' if classification else ""
    members = ",\n".join(f'        ("{name}", {ctor})' for name, (_, ctor) in
                         zip(("linear", "forest", "boosting"), parts, strict=True))
    return ([*imports, f"from sklearn.ensemble import {voter}"],
            f"{voter}([\n{members},\n    ]{soft})")


_GRIDS = {
    ("classification", "linear"): {"model__C": [0.1, 1.0, 10.0]},
    ("regression", "linear"): {"model__alpha": [0.1, 1.0, 10.0, 30.0]},
    ("classification", "random_forest"): {"model__min_samples_leaf": [1, 3],
                                          "model__max_features": ["sqrt", 0.5]},
    ("regression", "random_forest"): {"model__min_samples_leaf": [1, 3],
                                      "model__max_features": [0.33, 1.0]},
    ("classification", "gradient_boosting"): {"model__learning_rate": [0.05, 0.1],
                                              "model__max_depth": [2, 3]},
    ("regression", "gradient_boosting"): {"model__learning_rate": [0.05, 0.1],
                                          "model__max_depth": [2, 3]},
    ("classification", "ensemble"): {"model__linear__C": [0.1, 1.0, 10.0]},
    ("regression", "ensemble"): {"model__linear__alpha": [0.3, 3.0, 30.0]},
}


def scoring(task_type: str) -> str:
    return "balanced_accuracy" if task_type == "classification" else "r2"


def cv_splitter(spec: ModelSpec) -> list[str]:
    if spec.task_type == "classification":
        return [
            "from sklearn.model_selection import StratifiedKFold",
            f"n_splits = int(max(2, min({spec.cv_folds}, y.value_counts().min())))",
            "cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=RANDOM_SEED)",
        ]
    return [
        "from sklearn.model_selection import KFold",
        f"cv = KFold(n_splits={spec.cv_folds}, shuffle=True, random_state=RANDOM_SEED)",
    ]


def model_cell(spec: ModelSpec) -> str:
    family = spec.family if spec.stage == "search" else spec.stage
    imports, ctor = _estimator(spec, family)
    lines = [f"# Model: {spec.label}. The pipeline is fit on the training rows only.", *imports]
    if spec.stage == "search":
        grid = _GRIDS[(spec.task_type, family)]
        lines += [
            "from sklearn.model_selection import GridSearchCV",
            *cv_splitter(spec),
            "",
            f'base = Pipeline([("preprocess", preprocess), ("model", {ctor})])',
            f"param_grid = {grid!r}",
            f'search = GridSearchCV(base, param_grid, scoring="{scoring(spec.task_type)}", cv=cv, '
            "n_jobs=1)",
            "search.fit(X, y)",
            "pipeline = search.best_estimator_",
            'print("best parameters:", search.best_params_)',
        ]
    else:
        lines += ["", f'pipeline = Pipeline([("preprocess", preprocess), ("model", {ctor})])']
    return "\n".join(lines)


def cv_cell(spec: ModelSpec) -> str:
    metric = scoring(spec.task_type)
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
        f'cv_scores = cross_val_score(pipeline, X, y, cv=cv, scoring="{metric}", n_jobs=1)',
        "cv_score = cv_scores.mean()",
        f'print(f"cross-validated {metric}: {{cv_score:.4f}} +/- {{cv_scores.std():.4f}}")',
    ])


def predict_cell(spec: ModelSpec) -> str:
    lines = [
        "# Fit on all training rows, predict the test rows, write PREDICTIONS_PATH.",
        "pipeline.fit(X, y)",
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


CV_CELL = 3
"""Index of the cross-validation cell in :func:`cells_for` (diagnostic only)."""


def cells_for(spec: ModelSpec) -> list[str]:
    return [load_cell(spec), preprocess_cell(spec), model_cell(spec), cv_cell(spec),
            predict_cell(spec)]
