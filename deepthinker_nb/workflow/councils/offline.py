"""Offline councils: deterministic, rule-based, no model server needed.

They are the default so that the workflow always runs; a language-model council replaces any of
them by implementing the same protocol method.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

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
from deepthinker_nb.workflow.councils.codegen import CV_CELL, STAGES, ModelSpec, cells_for
from deepthinker_nb.workflow.data import DataProfile
from deepthinker_nb.workflow.metrics import PRIMARY_METRIC

FINDINGS_MARKER = "RESEARCH_FINDINGS "
IMBALANCE_RATIO = 1.5


class OfflinePlanner:
    def plan(self, objective: str, profile: DataProfile) -> Plan:
        metric = PRIMARY_METRIC[profile.task_type]
        steps = ["Reconnoitre the training rows in the kernel: shape, types, missing values, "
                 + ("class balance" if profile.task_type == "classification"
                    else "target distribution") + ", a plot."]
        prep = []
        if profile.missing_total:
            prep.append(f"impute {profile.missing_total} missing values")
        if profile.categorical_features:
            prep.append("one-hot encode " + ", ".join(f"`{c}`" for c in
                                                      profile.categorical_features[:6]))
        if profile.numeric_features:
            prep.append(f"scale {len(profile.numeric_features)} numeric features")
        steps.append("Preprocess inside a pipeline fit on training rows only: "
                     + ("; ".join(prep) or "no preprocessing needed") + ".")
        baseline = "logistic regression" if profile.task_type == "classification" else "ridge"
        steps += [
            f"Start from a {baseline} baseline with cross-validation on the training rows.",
            "Escalate on feedback: random forest, gradient boosting, then a small "
            "hyperparameter search around the best family.",
            f"Score on the held-out `{metric}` (computed on the host); keep the best iteration.",
            "Stress-test the best code: label noise, missing values, a subgroup, a shifted "
            "feature.",
        ]
        notes = []
        if profile.task_type == "classification" and profile.imbalance >= IMBALANCE_RATIO:
            notes.append(f"classes are imbalanced (ratio {profile.imbalance:.1f}); use balanced "
                         "class weights")
        notes += profile.notes
        models = (["logistic_regression", "random_forest", "gradient_boosting"]
                  if profile.task_type == "classification"
                  else ["ridge", "random_forest", "gradient_boosting"])
        return Plan(objective, profile.task_type, profile.target, metric, steps, models, notes)


class OfflineResearcher:
    def cells(self, plan: Plan, profile: DataProfile) -> list[str]:
        if plan.task_type == "classification":
            target_cell = "\n".join([
                "# Class balance of the target.",
                "balance = train[TARGET].value_counts().sort_index()",
                "balance.to_frame('rows')",
            ])
            plot = "balance.plot.bar(ax=ax, color='#4c72b0')\nax.set_ylabel('rows')"
        else:
            target_cell = "\n".join([
                "# Distribution of the target.",
                "train[TARGET].describe().to_frame()",
            ])
            plot = "train[TARGET].plot.hist(bins=30, ax=ax, color='#4c72b0')"
        return [
            "\n".join([
                "# Reconnaissance on the training rows (the test rows are held out on the host).",
                "import pandas as pd",
                "",
                "train = pd.read_csv(DATA_PATH)",
                'print(f"shape: {train.shape[0]} rows x {train.shape[1]} columns")',
                "train.head()",
            ]),
            "\n".join([
                "# Column types, missing values and cardinality.",
                "overview = pd.DataFrame({",
                '    "dtype": train.dtypes.astype(str),',
                '    "missing": train.isna().sum(),',
                '    "unique": train.nunique(),',
                "})",
                "overview",
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
                "findings = {",
                '    "rows": int(train.shape[0]),',
                '    "features": int(features.shape[1]),',
                '    "missing": {c: int(n) for c, n in features.isna().sum().items() if n},',
                '    "numeric": features.select_dtypes(include="number").columns.tolist(),',
                '    "categorical": features.select_dtypes(exclude="number").columns.tolist(),',
                "}",
                'if TASK_TYPE == "classification":',
                '    findings["classes"] = {str(k): int(v) for k, v in '
                "train[TARGET].value_counts().items()}",
                "else:",
                '    findings["target_skew"] = float(train[TARGET].skew())',
                f'print("{FINDINGS_MARKER}" + json.dumps(findings))',
            ]),
        ]

    def summarise(self, plan: Plan, profile: DataProfile, outputs: list[str]) -> ResearchSummary:
        facts: dict = {}
        for text in outputs:
            for line in text.splitlines():
                if line.startswith(FINDINGS_MARKER):
                    try:
                        facts = json.loads(line[len(FINDINGS_MARKER):])
                    except ValueError:
                        facts = {}
        if not facts:
            return ResearchSummary(
                findings=["the reconnaissance cells did not finish; planning from the host "
                          "profile only",
                          *profile.to_markdown().replace("- ", "").splitlines()],
                status="incomplete",
            )
        findings = [f"the kernel sees {facts['rows']} training rows and {facts['features']} "
                    "features (the held-out test rows are not visible to it)"]
        if facts.get("numeric"):
            findings.append(f"{len(facts['numeric'])} numeric features: "
                            + ", ".join(facts["numeric"][:8]))
        if facts.get("categorical"):
            findings.append(f"{len(facts['categorical'])} categorical features: "
                            + ", ".join(facts["categorical"][:8]) + " (one-hot encode)")
        missing = facts.get("missing") or {}
        if missing:
            worst = sorted(missing.items(), key=lambda kv: -kv[1])[:4]
            findings.append("missing values in " + ", ".join(f"{c} ({n})" for c, n in worst)
                            + " (impute inside the pipeline)")
        else:
            findings.append("no missing feature values")
        if "classes" in facts:
            counts = facts["classes"]
            ratio = max(counts.values()) / max(1, min(counts.values()))
            findings.append(f"{len(counts)} classes, imbalance ratio {ratio:.1f}"
                            + (" (use balanced class weights)" if ratio >= IMBALANCE_RATIO else ""))
        if "target_skew" in facts:
            findings.append(f"target skew {facts['target_skew']:.2f}")
        return ResearchSummary(findings=findings, status="ok", facts=facts)


class OfflineCoder:
    """Escalates linear -> random forest -> gradient boosting -> a voting ensemble of the three
    -> a hyperparameter search around the best family so far; fixes what failed."""

    def __init__(self, cv_folds: int = 3):
        self.cv_folds = cv_folds

    def propose(self, request: CodeRequest) -> CodeProposal:
        spec, why = self._decide(request)
        return CodeProposal(cells=cells_for(spec), rationale=why, model=spec.label,
                            diagnostic_cells=(CV_CELL,))

    def _base(self, request: CodeRequest) -> ModelSpec:
        profile = request.profile
        balanced = (profile.task_type == "classification"
                    and (profile.imbalance >= IMBALANCE_RATIO
                         or any("balanced class weights" in n for n in request.plan.notes)))
        return ModelSpec(profile.task_type, "linear", balanced=balanced, cv_folds=self.cv_folds)

    def _decide(self, request: CodeRequest) -> tuple[ModelSpec, str]:
        base = self._base(request)
        last, best = request.last, request.best
        if last is None:
            return base, "Baseline: a linear model on type-aware preprocessing."
        last_spec = _spec_of(last, base)
        if last.status != "ok":
            drop = tuple(sorted(set(last_spec.drop_columns) | set(
                _columns_named(last.error or "", request.profile))))
            if last_spec.robust:
                spec = replace(base, robust=True, drop_columns=drop)
                why = (f"Iteration {last.index} failed again ({last.status}); falling back to the "
                       "simplest model in robust mode.")
            else:
                spec = replace(last_spec, robust=True, drop_columns=drop)
                why = (f"Iteration {last.index} failed ({last.status}: {_first_line(last.error)}); "
                       "same approach in robust mode"
                       + (f", without {', '.join(drop)}" if drop else "") + ".")
            if last.status == "timeout" and spec.stage != "linear":
                spec = replace(base, robust=spec.robust, drop_columns=drop)
                why = f"Iteration {last.index} timed out; falling back to the linear model."
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
        if profile.categorical_features:
            column = profile.categorical_features[0]
            scenarios.append(Scenario(f"subgroup_{column}", "subgroup",
                                      f"test rows with the most frequent `{column}`",
                                      {"column": column}))
        elif profile.numeric_features:
            column = profile.numeric_features[0]
            scenarios.append(Scenario(f"subgroup_{column}", "subgroup",
                                      f"test rows with `{column}` above its training median",
                                      {"column": column}))
        if profile.numeric_features:
            column = profile.numeric_features[0]
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
