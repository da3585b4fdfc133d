"""Offline councils: deterministic, rule-based, no model server needed.

They are the default so that the workflow always runs; a language-model council replaces any of
them by implementing the same protocol method.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from deepthinker_nb.workflow.councils.base import (
    Attempt,
    CodeProposal,
    CodeRequest,
    Evaluation,
    EvaluationRequest,
    Plan,
    ResearchSummary,
    Scenario,
    ScenarioResult,
    SimulationReport,
)
from deepthinker_nb.workflow.councils.codegen import (
    STAGES,
    ModelSpec,
    cells_for,
    diagnostic_cells,
    grid_size,
)
from deepthinker_nb.workflow.councils.columns import CLASSIFY_SOURCE, ColumnPlan
from deepthinker_nb.workflow.councils.sizing import Sizing
from deepthinker_nb.workflow.data import DataProfile
from deepthinker_nb.workflow.metrics import PRIMARY_METRIC

FINDINGS_MARKER = "RESEARCH_FINDINGS "
COLUMNS_MARKER = "RESEARCH_COLUMNS "
IMBALANCE_RATIO = 1.5


class OfflinePlanner:
    def plan(self, objective: str, profile: DataProfile) -> Plan:
        metric = PRIMARY_METRIC[profile.task_type]
        columns = ColumnPlan.from_profile(profile)
        sizing = Sizing.for_data(profile.n_train, len(columns.features))
        steps = ["Reconnoitre the training rows in the kernel: shape, size in memory, types, "
                 "missing values, "
                 + ("class balance" if profile.task_type == "classification"
                    else "target distribution")
                 + ", a plot; classify every column (numeric, categorical, high-cardinality, "
                 "date, free text, identifier, constant, leaking the target)."]
        prep = []
        if profile.missing_total:
            prep.append(f"impute {profile.missing_total} missing values")
        if profile.categorical_features:
            prep.append("one-hot encode (or give trees native categories) "
                        + ", ".join(f"`{c}`" for c in profile.categorical_features[:6])
                        + "; target-encode categories with many values and turn dates and "
                        "free text into features, as the research finds them")
        if profile.numeric_features:
            prep.append(f"scale {len(profile.numeric_features)} numeric features")
        steps.append("Preprocess inside a pipeline fit on training rows only: "
                     + ("; ".join(prep) or "no preprocessing needed")
                     + "; drop identifiers, constants and leaking columns with a note.")
        baseline = "logistic regression" if profile.task_type == "classification" else "ridge"
        steps += [
            f"Start from a {baseline} baseline with cross-validation on the training rows.",
            "Escalate on feedback: random forest, histogram gradient boosting, a voting "
            "ensemble, then a small hyperparameter search around the best family.",
            f"Size the work to the data: {sizing.describe()}.",
            f"Score on the held-out `{metric}` (computed on the host); keep the best iteration.",
            "Stress-test the best code: label noise, missing values, a subgroup, a shifted "
            "feature.",
        ]
        notes = []
        if profile.task_type == "classification" and profile.imbalance >= IMBALANCE_RATIO:
            minority = min(profile.classes.values()) / max(1, profile.n_train)
            notes.append(f"classes are imbalanced (ratio {profile.imbalance:.1f}, smallest "
                         f"class {minority:.1%}); use balanced class weights and judge by "
                         f"`{metric}`, not accuracy"
                         + ("; pick the decision threshold that maximises it on out-of-fold "
                            "probabilities" if _tunes_threshold(profile) else ""))
        notes += profile.notes
        models = (["logistic_regression", "random_forest", "gradient_boosting"]
                  if profile.task_type == "classification"
                  else ["ridge", "random_forest", "gradient_boosting"])
        return Plan(objective, profile.task_type, profile.target, metric, steps, models, notes,
                    sizing.to_dict())


COLUMNS_PER_CELL = 30
"""Columns whose roles one research cell prints (each cell's output reaches the summary
clipped to a few thousand characters); up to this many, the findings cell prints them."""


class OfflineResearcher:
    def cells(self, plan: Plan, profile: DataProfile) -> list[str]:
        if plan.task_type == "classification":
            target_cell = "\n".join([
                "# Class balance of the target.",
                "balance = train[TARGET].value_counts().sort_index()",
                'balance.to_frame("rows").assign(share=(balance / balance.sum()).round(4))',
            ])
            plot = "balance.plot.bar(ax=ax, color='#4c72b0')\nax.set_ylabel('rows')"
        else:
            target_cell = "\n".join([
                "# Distribution of the target.",
                "train[TARGET].describe().to_frame()",
            ])
            plot = "train[TARGET].plot.hist(bins=30, ax=ax, color='#4c72b0')"
        cells = [
            "\n".join([
                "# Reconnaissance on the training rows (the test rows are held out on the host).",
                "import pandas as pd",
                "",
                "train = pd.read_csv(DATA_PATH)",
                "memory_mb = train.memory_usage(deep=True).sum() / 2**20",
                'print(f"shape: {train.shape[0]} rows x {train.shape[1]} columns, "',
                '      f"{memory_mb:.1f} MiB in memory")',
                "train.head()",
            ]),
            "\n".join([
                "# Column types, missing values and cardinality.",
                "overview = pd.DataFrame({",
                '    "dtype": train.dtypes.astype(str),',
                '    "missing": train.isna().mean().round(4),',
                '    "unique": train.nunique(),',
                "})",
                "overview",
            ]),
            "\n".join([
                "# What each column is: numeric, categorical (few or many values), date (also",
                "# dates stored as text), free text, identifier, constant, or leaking the target",
                "# (it predicts the target almost perfectly on its own). The coder follows these",
                "# roles: identifiers, constants and leaks are dropped.",
                CLASSIFY_SOURCE.rstrip(),
                "",
                "",
                "roles = classify_columns(train, TARGET, TASK_TYPE, seed=RANDOM_SEED)",
                'pd.DataFrame(roles).T[["role", "why", "missing", "unique"]]',
            ]),
            target_cell,
            "\n".join([
                "# A picture of the target.",
                "import matplotlib.pyplot as plt",
                "",
                "fig, ax = plt.subplots(figsize=(5, 3))",
                plot,
                'ax.set_title(f"{TARGET} (training rows)")',
                "fig.tight_layout()",
                "plt.show()",
            ]),
            "\n".join([
                "# Findings in machine-readable form for the research summary.",
                "import json",
                "",
                "features = train.drop(columns=[TARGET])",
                "missing = features.isna().mean()",
                "findings = {",
                '    "rows": int(train.shape[0]),',
                '    "features": int(features.shape[1]),',
                '    "memory_mb": round(float(memory_mb), 1),',
                '    "missing": {c: round(float(r), 4) for c, r in',
                "                missing[missing > 0].nlargest(20).items()},",
                "}",
                'if TASK_TYPE == "classification":',
                '    findings["classes"] = {str(k): int(v) for k, v in '
                "train[TARGET].value_counts().items()}",
                "else:",
                '    findings["target_skew"] = float(train[TARGET].skew())',
                f'print("{FINDINGS_MARKER}" + json.dumps(findings))',
            ]),
        ]
        names = [c.name for c in profile.features]
        if len(names) <= COLUMNS_PER_CELL:  # one line of roles, printed with the findings
            cells[-1] += "\n" + _roles_line("roles")
            return cells
        for start in range(0, len(names), COLUMNS_PER_CELL):
            chunk = names[start:start + COLUMNS_PER_CELL]
            cells.append("\n".join([
                f"# The column roles in machine-readable form (columns {start + 1}-"
                f"{start + len(chunk)}).",
                "import json",
                "",
                f"chosen = {{c: roles[c] for c in {chunk!r} if c in roles}}",
                _roles_line("chosen"),
            ]))
        return cells

    def summarise(self, plan: Plan, profile: DataProfile, outputs: list[str]) -> ResearchSummary:
        facts: dict = {}
        roles: dict[str, dict[str, Any]] = {}
        for text in outputs:
            for line in text.splitlines():
                try:
                    if line.startswith(FINDINGS_MARKER):
                        facts = json.loads(line[len(FINDINGS_MARKER):])
                    elif line.startswith(COLUMNS_MARKER):
                        for name, value in json.loads(line[len(COLUMNS_MARKER):]).items():
                            role, why, fmt = [*list(value), None, None, None][:3]
                            roles[str(name)] = {"role": role, "why": why or "",
                                                **({"format": fmt} if fmt else {})}
                except (ValueError, TypeError, AttributeError):
                    continue
        if not facts:
            return ResearchSummary(
                findings=["the reconnaissance cells did not finish; planning from the host "
                          "profile only",
                          *profile.to_markdown().replace("- ", "").splitlines()],
                status="incomplete",
            )
        findings = [f"the kernel sees {facts['rows']} training rows and {facts['features']} "
                    "features (the held-out test rows are not visible to it)"
                    + (f", {facts['memory_mb']} MiB in memory" if "memory_mb" in facts else "")]
        if roles:
            facts["columns"] = roles
            findings += ColumnPlan.from_roles(roles).describe()
        else:
            if facts.get("numeric"):
                findings.append(f"{len(facts['numeric'])} numeric features: "
                                + ", ".join(facts["numeric"][:8]))
            if facts.get("categorical"):
                findings.append(f"{len(facts['categorical'])} categorical features: "
                                + ", ".join(facts["categorical"][:8]) + " (one-hot encode)")
        missing = facts.get("missing") or {}
        if missing:
            worst = sorted(missing.items(), key=lambda kv: -kv[1])[:4]
            findings.append("missing values in " + ", ".join(
                f"{c} ({_share(n, facts.get('rows'))})" for c, n in worst)
                + " (impute inside the pipeline)")
        else:
            findings.append("no missing feature values")
        if "classes" in facts:
            counts = facts["classes"]
            ratio = max(counts.values()) / max(1, min(counts.values()))
            smallest = min(counts.values()) / max(1, sum(counts.values()))
            findings.append(f"{len(counts)} classes, imbalance ratio {ratio:.1f} (smallest "
                            f"class {smallest:.1%})"
                            + (" (use balanced class weights; judge by balanced accuracy)"
                               if ratio >= IMBALANCE_RATIO else ""))
        if "target_skew" in facts:
            findings.append(f"target skew {facts['target_skew']:.2f}")
        return ResearchSummary(findings=findings, status="ok", facts=facts)


def _roles_line(name: str) -> str:
    """The statement printing the roles in dict ``name`` on one marked line."""
    return (f'print("{COLUMNS_MARKER}" + json.dumps({{c: [r["role"], r["why"], r.get("format")]'
            f" for c, r in {name}.items()}}))")


def _share(value: float, rows: Any) -> str:
    """A missing count (old findings) or rate (new ones) as text."""
    if isinstance(value, float) and value <= 1.0:
        return f"{value:.1%}"
    return f"{value}" + (f" of {rows}" if rows else "")


THRESHOLD_MIN_ROWS = 200
"""The decision threshold is tuned (binary, imbalanced classes) when the smaller class has at
least this many training rows; with fewer, a tuned threshold follows noise and balanced class
weights alone decide."""


def _tunes_threshold(profile: DataProfile) -> bool:
    return (profile.task_type == "classification" and profile.n_classes == 2
            and profile.imbalance >= IMBALANCE_RATIO
            and min(profile.classes.values()) >= THRESHOLD_MIN_ROWS)


SLOW_STATUSES = ("timeout", "died")
"""Failures the next attempt answers by doing less work."""


class OfflineCoder:
    """Escalates linear -> random forest -> gradient boosting -> a voting ensemble of the three
    -> a hyperparameter search around the best family so far; fixes what failed.

    The cells follow the research's column roles, the plan's sizing (fitted to the per-cell time
    limit) and do less work after a cell timed out or the kernel died."""

    def __init__(self, cv_folds: int = 3):
        self.cv_folds = cv_folds

    def propose(self, request: CodeRequest) -> CodeProposal:
        spec, why = self._decide(request)
        return CodeProposal(cells=cells_for(spec), rationale=why, model=spec.label,
                            diagnostic_cells=diagnostic_cells(spec))

    def _columns(self, request: CodeRequest) -> ColumnPlan:
        roles = (request.research.facts or {}).get("columns") if request.research else None
        features = {c.name for c in request.profile.features}
        if isinstance(roles, dict) and roles and set(roles) >= features:
            return ColumnPlan.from_roles({k: v for k, v in roles.items() if k in features})
        return ColumnPlan.from_profile(request.profile)

    def _sizing(self, request: CodeRequest, columns: ColumnPlan) -> Sizing:
        profile = request.profile
        default = Sizing.for_data(profile.n_train, len(columns.features), len(columns.text))
        # The plan's knobs; the width counts the research's text columns, which it did not know.
        sizing = replace(Sizing.from_dict(request.plan.sizing, default), rows=default.rows,
                         features=default.features)
        if self.cv_folds != 3:
            sizing = replace(sizing, cv_folds=self.cv_folds)
        slow = [a for a in request.history if a.status in SLOW_STATUSES]
        died = bool(slow) and slow[-1].status == "died"
        return sizing.cheaper(len(slow), died=died)

    def _base(self, request: CodeRequest) -> ModelSpec:
        profile = request.profile
        balanced = (profile.task_type == "classification"
                    and (profile.imbalance >= IMBALANCE_RATIO
                         or any("balanced class weights" in n for n in request.plan.notes)))
        columns = self._columns(request)
        sizing = self._sizing(request, columns)
        return ModelSpec(profile.task_type, "linear", balanced=balanced,
                         cv_folds=sizing.cv_folds, columns=columns,
                         threshold=balanced and _tunes_threshold(profile))

    def _sized(self, spec: ModelSpec, request: CodeRequest) -> ModelSpec:
        """``spec`` with the sizing for its family and the per-cell time limit."""
        sizing = self._sizing(request, spec.columns or ColumnPlan())
        candidates = grid_size(spec) if spec.stage == "search" else 1
        sizing = sizing.within(request.cell_timeout, spec.model_family, candidates)
        return replace(spec, cv_folds=sizing.cv_folds,
                       cv_rows=sizing.cv_rows if sizing.cv_rows else None,
                       tree_rows=sizing.tree_rows, fit_rows=sizing.fit_rows,
                       text_vocabulary=sizing.text_vocabulary,
                       boosting_rounds=sizing.boosting_rounds,
                       early_stopping=sizing.early_stopping, n_jobs=sizing.n_jobs)

    def _decide(self, request: CodeRequest) -> tuple[ModelSpec, str]:
        spec, why = self._choose(request)
        spec = self._sized(spec, request)
        slow = [a for a in request.history if a.status in SLOW_STATUSES]
        if slow:
            why += (f" {len(slow)} earlier attempt{'s' if len(slow) > 1 else ''} ran out of "
                    f"time or memory, so this one does less: model selection on "
                    f"{spec.cv_rows or request.profile.n_train:,} rows with {spec.cv_folds} "
                    "folds.")
        return spec, why

    def _choose(self, request: CodeRequest) -> tuple[ModelSpec, str]:
        base = self._base(request)
        last, best = request.last, request.best
        if last is None:
            return base, "Baseline: a linear model on type-aware preprocessing."
        last_spec = _spec_of(last, base)
        if last.status != "ok":
            drop = tuple(sorted(set(last_spec.drop_columns) | set(
                _columns_named(last.error or "", request.profile))))
            if last.status in SLOW_STATUSES:
                spec = replace(base, drop_columns=drop)
                what = ("timed out" if last.status == "timeout"
                        else "ran out of memory or crashed")
                why = f"Iteration {last.index} {what}; falling back to the linear model."
                return spec, why
            if last_spec.robust:
                spec = replace(base, robust=True, drop_columns=drop)
                why = (f"Iteration {last.index} failed again ({last.status}); falling back to the "
                       "simplest model in robust mode.")
            else:
                spec = replace(last_spec, robust=True, drop_columns=drop)
                why = (f"Iteration {last.index} failed ({last.status}: {_first_line(last.error)}); "
                       "same approach in robust mode"
                       + (f", without {', '.join(drop)}" if drop else "") + ".")
            return spec, why
        tried = {(_spec_of(a, base).stage) for a in request.history if a.status == "ok"}
        next_stages = [s for s in STAGES if s not in tried and s != "linear"]
        best_spec = _spec_of(best, base) if best else base
        family = best_spec.family if best_spec.stage == "search" else best_spec.stage
        stage = next_stages[0] if next_stages else "search"
        spec = replace(best_spec, stage=stage, family=family if stage == "search" else stage)
        why = (f"Score {last.score:.2f} is below the threshold {request.quality_threshold:.1f}; "
               + (f"searching hyperparameters of {family.replace('_', ' ')} (the best so far)."
                  if stage == "search" else f"escalating to {stage.replace('_', ' ')}."))
        return spec, why


_LABEL_TO_STAGE = {"logistic_regression": "linear", "ridge": "linear",
                   "voting_ensemble": "ensemble"}


def _spec_of(attempt: Attempt | None, base: ModelSpec) -> ModelSpec:
    """Recover the spec from an attempt's model label (``search:ridge+robust`` ...)."""
    if attempt is None:
        return base
    label = attempt.model or ""
    robust = label.endswith("+robust")
    name = label.removesuffix("+robust")
    if name.startswith("search:"):
        family = _LABEL_TO_STAGE.get(name[7:], name[7:])
        stage = "search"
    else:
        stage = family = _LABEL_TO_STAGE.get(name, name)
    if family not in STAGES:
        stage = family = "linear"
    return replace(base, stage=stage, family=family, robust=robust)


def _columns_named(error: str, profile: DataProfile) -> list[str]:
    names = {c.name for c in profile.features}
    quoted = set(re.findall(r"['\"]([^'\"]+)['\"]", error))
    return [n for n in names if n in quoted]


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:160] if (text or "").strip() else "no detail"


class OfflineEvaluator:
    """Scores with the host metric and explains what to do next."""

    def evaluate(self, request: EvaluationRequest) -> Evaluation:
        if request.status in SLOW_STATUSES:
            what = "ran out of time" if request.status == "timeout" else "stopped the kernel"
            return Evaluation(
                score=0.0,
                feedback=(f"Iteration {request.iteration} {what} ({request.status}): "
                          f"{_first_line(request.error)}. Do less work next: sample rows for "
                          "model selection, fewer folds, a cheaper model."),
                suggestions=["sample fewer rows", "fewer folds", "a cheaper model",
                             "more time per cell (--timeout) or for the run (--time-budget)"],
            )
        if request.status != "ok" or request.result is None:
            return Evaluation(
                score=0.0,
                feedback=(f"Iteration {request.iteration} failed ({request.status}): "
                          f"{_first_line(request.error)}. Fix this before anything else."),
                suggestions=["fix the error", "fall back to a simpler model if it persists"],
            )
        result = request.result
        primary = result.primary
        parts = [f"Held-out {primary} {result.primary_value:.4f} -> score "
                 f"{request.metric_score:.2f}/10."]
        cv = _cv_score(request.stdout)
        if cv is not None:
            gap = cv - result.primary_value
            parts.append(f"Cross-validated {cv:.4f} on the training rows"
                         + (f"; the held-out score is {gap:.3f} lower (possible overfitting)."
                            if gap > 0.05 else "; consistent with the held-out score."))
        suggestions = []
        if request.metric_score >= request.quality_threshold:
            parts.append(f"Meets the threshold {request.quality_threshold:.1f}.")
        else:
            parts.append(f"Below the threshold {request.quality_threshold:.1f}: try a more "
                         "flexible model or tune the best one.")
            suggestions.append("escalate the model")
        if request.best_score and request.metric_score < request.best_score:
            parts.append(f"Worse than the best so far ({request.best_score:.2f}).")
        return Evaluation(score=request.metric_score, feedback=" ".join(parts),
                          suggestions=suggestions)


def _cv_score(stdout: str) -> float | None:
    match = re.search(r"cross-validated \w+: (-?\d+\.\d+)", stdout or "")
    return float(match.group(1)) if match else None


class OfflineSimulator:
    def scenarios(self, plan: Plan, profile: DataProfile) -> list[Scenario]:
        scenarios = [
            Scenario("label_noise", "label_noise",
                     "10% of training labels flipped" if profile.task_type == "classification"
                     else "noise of 0.5 std added to 10% of training targets",
                     {"fraction": 0.1}),
            Scenario("missing_values", "missing_values",
                     "20% of feature values removed (train and test)", {"fraction": 0.2}),
        ]
        columns = ColumnPlan.from_profile(profile)
        categorical = [c.name for c in sorted(profile.features, key=lambda c: c.unique)
                       if c.name in columns.categorical]
        numeric = [c for c in profile.numeric_features if c in columns.numeric]
        if categorical:
            column = categorical[0]
            scenarios.append(Scenario(f"subgroup_{column}", "subgroup",
                                      f"test rows with the most frequent `{column}`",
                                      {"column": column}))
        elif numeric:
            column = numeric[0]
            scenarios.append(Scenario(f"subgroup_{column}", "subgroup",
                                      f"test rows with `{column}` above its training median",
                                      {"column": column}))
        if numeric:
            column = numeric[0]
            scenarios.append(Scenario(f"shift_{column}", "shift",
                                      f"`{column}` shifted by +1 std in the test features",
                                      {"column": column, "std": 1.0}))
        return scenarios

    def report(self, primary: str, baseline: dict[str, float],
               results: list[ScenarioResult]) -> SimulationReport:
        ok = [r for r in results if r.status == "ok" and r.delta is not None]
        lines = []
        if ok:
            worst = min(ok, key=lambda r: r.delta)
            lines.append(f"Most sensitive to {worst.scenario.name} ({primary} "
                         f"{worst.delta:+.4f}).")
            robust = [r.scenario.name for r in ok if abs(r.delta) < 0.02]
            if robust:
                lines.append("Robust (change < 0.02) under: " + ", ".join(robust) + ".")
        failed = [r.scenario.name for r in results if r.status != "ok"]
        if failed:
            lines.append("Failed under: " + ", ".join(failed) + ".")
        return SimulationReport(primary, baseline, results, " ".join(lines))
