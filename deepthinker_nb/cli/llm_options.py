"""The ``--llm-*`` options of ``run`` and ``demo``: model-backed councils from the shell."""

from __future__ import annotations

import argparse
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from deepthinker_nb.cli.options import positive_seconds


def add_llm_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "language model", "write and judge the code with a model behind an OpenAI-compatible "
        "endpoint (Ollama, vLLM, llama.cpp, hosted); the key comes from DEEPTHINKER_LLM_API_KEY "
        "or OPENAI_API_KEY only. Without these options the offline councils run.")
    group.add_argument("--llm-url", metavar="URL",
                       help="chat-completions base URL, e.g. http://127.0.0.1:11434/v1 "
                            "(default: DEEPTHINKER_LLM_URL, else Ollama's)")
    group.add_argument("--model", metavar="NAME",
                       help="model for the coder and evaluator (default: DEEPTHINKER_LLM_MODEL)")
    group.add_argument("--coder-model", metavar="NAME", help="a different model for the coder")
    group.add_argument("--evaluator-model", metavar="NAME",
                       help="a different model for the evaluator")
    group.add_argument("--llm-timeout", type=positive_seconds, default=None, metavar="SECONDS",
                       help="seconds one model request may take (default 120)")
    group.add_argument("--llm-max-requests", type=int, default=None, metavar="N",
                       help="model requests per run (default 200)")
    group.add_argument("--llm-roles", default="coder,evaluator", metavar="ROLES",
                       help="comma-separated councils the model takes: planner, researcher, "
                            "coder, evaluator, simulator (default coder,evaluator)")
    group.add_argument("--llm-replay", metavar="LOG",
                       help="serve the replies of a recorded llm_calls.jsonl instead of a model")


def llm_wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) for name in ("llm_url", "model", "llm_replay"))


def llm_councils_from_args(args: argparse.Namespace, runs_dir: str | Path,
                           check: bool = True) -> tuple[Any, str]:
    """The councils and the run id (fixed here so the call log lands in the run dir)."""
    from deepthinker_nb.llm import LLMClient, LLMConfig
    from deepthinker_nb.workflow.councils.llm import llm_councils, log_path

    config = LLMConfig.from_env(
        base_url=args.llm_url, model=args.model, timeout=args.llm_timeout,
        max_requests=args.llm_max_requests,
        replay=Path(args.llm_replay) if args.llm_replay else None)
    if args.coder_model:
        config = config.with_role("coder", model=args.coder_model)
    if args.evaluator_model:
        config = config.with_role("evaluator", model=args.evaluator_model)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    roles = [r.strip() for r in (args.llm_roles or "").split(",") if r.strip()]
    client = LLMClient(config, log_path(runs_dir, run_id))
    if check:
        client.check()  # an unreachable server or unknown model stops here, before any kernel
    return llm_councils(config, roles=roles, client=client), run_id


__all__ = ["add_llm_options", "llm_councils_from_args", "llm_wanted"]
