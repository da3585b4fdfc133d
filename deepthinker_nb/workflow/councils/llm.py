"""Councils backed by a language model over an OpenAI-compatible endpoint.

They implement the same protocols as the offline councils, so the runner does not know the
difference; :func:`llm_councils` swaps them in and keeps the offline ones for the other roles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepthinker_nb.errors import ConfigError
from deepthinker_nb.llm import LOG_NAME, LLMClient, LLMConfig, LLMNoCodeError
from deepthinker_nb.llm.extract import code_blocks, json_object, prose, split_cells, syntax_error
from deepthinker_nb.llm.retrieval_web import ResearchSources
from deepthinker_nb.workflow.candidates import CoderMember, CoderPanel, member_name
from deepthinker_nb.workflow.councils import Councils, OfflineCoder
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


@dataclass(frozen=True)
class MemberSpec:
    """One coder of a council as the user names it: ``offline`` or ``model[@temperature]``.
    ``name`` names its work dir, notebook and call-log role (``coder:<name>``)."""

    name: str
    model: str | None = None
    """None: the offline coder."""
    temperature: float | None = None

    @property
    def label(self) -> str:
        if self.model is None:
            return "offline"
        return self.model + (f"@{self.temperature:g}" if self.temperature is not None else "")

    @property
    def role(self) -> str:
        return f"coder:{self.name}"


def parse_coders(text: str, flag: str = "--coders") -> list[MemberSpec]:
    """``offline,qwen2.5-coder:7b@0.2,other@0.8`` -> one :class:`MemberSpec` each (a model name
    may hold ``:``; the temperature is what follows the last ``@``)."""
    specs: list[MemberSpec] = []
    names: dict[str, int] = {}
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        model, temperature = raw, None
        if "@" in raw:
            model, _, value = raw.rpartition("@")
            try:
                temperature = float(value)
            except ValueError:
                temperature = -1.0
            if not model or not 0.0 <= temperature <= 2.0:
                raise ConfigError(f"{flag}: {raw!r} is not offline or MODEL[@TEMPERATURE] with a "
                                  "temperature from 0 to 2 (e.g. qwen2.5-coder:7b@0.2)")
        offline = model.lower() == "offline"
        label = "offline" if offline else raw
        name = member_name(label)
        count = names[name] = names.get(name, 0) + 1
        specs.append(MemberSpec(name if count == 1 else f"{name}-{count}",
                                None if offline else model, None if offline else temperature))
    if not specs:
        raise ConfigError(f"{flag}: name one or more coders, e.g. offline,qwen2.5-coder:7b@0.2")
    return specs


def with_coders(config: LLMConfig, specs: list[MemberSpec]) -> LLMConfig:
    """``config`` with each model member's model and temperature under its own role."""
    for spec in specs:
        if spec.model is not None:
            config = config.with_role(spec.role, model=spec.model,
                                      temperature=spec.temperature)
    return config


def coder_panel(specs: list[MemberSpec], client: LLMClient | None = None) -> CoderPanel:
    """The council of coders ``specs`` name; model members ask ``client`` (whose config went
    through :func:`with_coders`)."""
    members = []
    for spec in specs:
        if spec.model is None:
            coder: Any = OfflineCoder()
        elif client is None:
            raise ConfigError(f"--coders: {spec.label} needs a model endpoint (--llm-url)")
        else:
            coder = LLMCoder(client, role=spec.role)
        members.append(CoderMember(spec.name, coder, spec.label, spec.model or "",
                                   spec.temperature))
    return CoderPanel(members)


def llm_councils(config: LLMConfig, log_path: Path | str | None = None, *,
                 roles: tuple[str, ...] | list[str] = DEFAULT_ROLES,
                 client: LLMClient | None = None,
                 coders: list[MemberSpec] | None = None,
                 sources: ResearchSources | None = None) -> Councils:
    """``Councils`` with the model-backed ``roles`` and the offline defaults elsewhere.

    ``log_path``: the call log, normally ``<run dir>/llm_calls.jsonl`` (see :func:`log_path`).
    ``coders``: a council of several coders (:func:`parse_coders`) instead of one.
    ``sources``: documents and web search for the researcher (which then is model-backed).
    """
    if coders:
        config = with_coders(config, coders)
    client = client or LLMClient(config, log_path)
    available = {"coder": LLMCoder, "evaluator": LLMEvaluator, "planner": LLMPlanner,
                 "researcher": LLMResearcher, "simulator": LLMSimulator}
    unknown = set(roles) - set(available)
    if unknown:
        raise ConfigError(f"llm councils: unknown role(s) {sorted(unknown)}; "
                          f"available: {sorted(available)}")
    if sources is not None and "researcher" not in roles:
        roles = [*roles, "researcher"]
    chosen: dict[str, Any] = {role: available[role](client) for role in roles}
    if sources is not None:
        chosen["researcher"] = LLMResearcher(client, sources=sources)
    if coders:
        chosen["coder"] = coder_panel(coders, client)
    return Councils.coerce(chosen)


def log_path(runs_dir: Path | str, run_id: str) -> Path:
    """Where a run's call log goes: inside the run directory the runner will create."""
    return Path(runs_dir) / run_id / LOG_NAME


__all__ = ["DEFAULT_ROLES", "ROLES", "LLMCoder", "LLMEvaluator", "LLMPlanner", "LLMResearcher",
           "LLMSimulator", "MemberSpec", "coder_panel", "llm_councils", "log_path",
           "parse_coders", "with_coders"]
