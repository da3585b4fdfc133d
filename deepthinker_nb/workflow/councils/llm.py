"""Councils backed by a language model over an OpenAI-compatible endpoint.

They implement the same protocols as the offline councils, so the runner does not know the
difference; :func:`llm_councils` swaps them in and keeps the offline ones for the other roles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepthinker_nb.llm import LOG_NAME, LLMClient, LLMConfig, LLMNoCodeError
from deepthinker_nb.llm.extract import code_blocks, json_object, prose, split_cells, syntax_error
from deepthinker_nb.workflow.councils import Councils
from deepthinker_nb.workflow.councils.base import (
    CodeProposal,
    CodeRequest,
    Evaluation,
    EvaluationRequest,
)
from deepthinker_nb.workflow.councils.llm_advisers import LLMPlanner, LLMResearcher, LLMSimulator
from deepthinker_nb.workflow.councils.llm_prompts import (
    EVALUATOR_SYSTEM,
    coder_system,
    coder_user,
    evaluator_user,
)

ROLES = ("planner", "researcher", "coder", "evaluator", "simulator")
DEFAULT_ROLES = ("coder", "evaluator")
"""The roles a model takes unless told otherwise: where it adds the most."""
MAX_LIFT = 1.0
"""How far the evaluator's score may sit above the host metric score: a reply talked into a
10 by the code it reviews still scores close to what the held-out metric says."""


@dataclass
class LLMCoder:
    """Asks the model for the iteration's code; a reply without parsable code is sent back
    with the reason, up to ``attempts`` replies per iteration."""

    client: LLMClient
    attempts: int = 3
    role: str = "coder"

    def propose(self, request: CodeRequest) -> CodeProposal:
        messages = [{"role": "system", "content": coder_system()},
                    {"role": "user", "content": coder_user(request)}]
        problem = ""
        for _ in range(self.attempts):
            reply = self.client.chat(self.role, messages)
            blocks = code_blocks(reply.text)
            code = "\n\n".join(blocks)
            if not blocks:
                problem = "the reply held no ```python block"
            else:
                error = syntax_error(code)
                if error is None:
                    model = self.client.config.for_role(self.role).model or reply.model
                    return CodeProposal(cells=split_cells(code), rationale=prose(reply.text),
                                        model=f"llm:{model}")
                problem = f"the code does not parse ({error})"
            messages += [{"role": "assistant", "content": reply.text},
                         {"role": "user", "content": f"That did not work: {problem}. Answer "
                          "with the complete code in one ```python block."}]
        raise LLMNoCodeError(f"llm coder: no usable code after {self.attempts} replies: "
                             f"{problem}")


@dataclass
class LLMEvaluator:
    """A structured judgement next to the host metric, never instead of it."""

    client: LLMClient
    role: str = "evaluator"
    max_lift: float = MAX_LIFT

    def evaluate(self, request: EvaluationRequest) -> Evaluation:
        base = f"metric score {request.metric_score:.2f}"
        if request.error and request.error.strip():
            base += f"; {request.status}: {request.error.strip().splitlines()[-1][:300]}"
        reply = self.client.chat(self.role, [{"role": "system", "content": EVALUATOR_SYSTEM},
                                             {"role": "user", "content": evaluator_user(request)}])
        judgement = _judgement(reply.text)
        if judgement is None:
            return Evaluation(None, f"{base} (the evaluator's reply was not the JSON asked for; "
                                    "the metric alone counts)")
        score, issues, recommendations = judgement
        if request.result is None:
            score = None  # a failed iteration has no metric to anchor a score on
        elif score is not None:
            score = min(score, request.metric_score + self.max_lift)
        # The runner hands the coder the feedback only, so the recommendations go there too.
        feedback = "; ".join([base, *(f"issue: {i}" for i in issues),
                              *(f"try: {r}" for r in recommendations)])
        return Evaluation(score, feedback, recommendations)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value[:500]]
    if isinstance(value, list):
        return [str(v)[:500] for v in value[:10]]
    return []


def _judgement(text: str) -> tuple[float | None, list[str], list[str]] | None:
    data = json_object(text)
    if data is None:
        return None
    raw = data.get("score")
    try:
        score = float(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        score = None
    if score is not None and (not math.isfinite(score) or not 0.0 <= score <= 10.0):
        score = None
    issues, recommendations = _strings(data.get("issues")), _strings(data.get("recommendations"))
    if score is None and not issues and not recommendations:
        return None
    return score, issues, recommendations


def llm_councils(config: LLMConfig, log_path: Path | str | None = None, *,
                 roles: tuple[str, ...] | list[str] = DEFAULT_ROLES,
                 client: LLMClient | None = None) -> Councils:
    """``Councils`` with the model-backed ``roles`` and the offline defaults elsewhere.

    ``log_path``: the call log, normally ``<run dir>/llm_calls.jsonl`` (see :func:`log_path`).
    """
    client = client or LLMClient(config, log_path)
    available = {"coder": LLMCoder, "evaluator": LLMEvaluator, "planner": LLMPlanner,
                 "researcher": LLMResearcher, "simulator": LLMSimulator}
    unknown = set(roles) - set(available)
    if unknown:
        from deepthinker_nb.errors import ConfigError

        raise ConfigError(f"llm councils: unknown role(s) {sorted(unknown)}; "
                          f"available: {sorted(available)}")
    return Councils.coerce({role: available[role](client) for role in roles})


def log_path(runs_dir: Path | str, run_id: str) -> Path:
    """Where a run's call log goes: inside the run directory the runner will create."""
    return Path(runs_dir) / run_id / LOG_NAME


__all__ = ["DEFAULT_ROLES", "ROLES", "LLMCoder", "LLMEvaluator", "LLMPlanner", "LLMResearcher",
           "LLMSimulator", "llm_councils", "log_path"]
