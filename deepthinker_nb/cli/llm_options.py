"""The ``--llm-*`` options of ``run`` and ``demo``: model-backed councils from the shell."""

from __future__ import annotations

import argparse
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from deepthinker_nb.cli.options import positive_seconds
from deepthinker_nb.errors import ConfigError


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
    group.add_argument("--coders", metavar="LIST",
                       help="a council of coders, comma-separated, each `offline` or "
                            "MODEL[@TEMPERATURE] (e.g. offline,qwen2.5-coder:7b@0.2,"
                            "qwen2.5-coder:7b@0.8): every iteration each proposes a candidate, "
                            "they run side by side in their own kernels and the best held-out "
                            "metric wins (give --pool-size N to keep N kernels warm)")
    group.add_argument("--docs", metavar="DIR",
                       help="a folder of text, Markdown, notebook or PDF files the researcher "
                            "(then model-backed) consults: the BM25 top passages go into its "
                            "prompt and, with their file, into research.ipynb")
    group.add_argument("--search-url", metavar="URL",
                       help="a SearXNG instance (its JSON format enabled) the researcher "
                            "searches; results go into its prompt and, with their URL, into "
                            "research.ipynb; a failing search is a warning")


def llm_wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) for name in ("llm_url", "model", "llm_replay",
                                                       "coders", "docs", "search_url"))


def _sources(args: argparse.Namespace) -> Any:
    """The researcher's documents and web search, or None."""
    if not (getattr(args, "docs", None) or getattr(args, "search_url", None)):
        return None
    from deepthinker_nb.llm.retrieval import DocumentIndex
    from deepthinker_nb.llm.retrieval_web import ResearchSources, SearxngSearch

    return ResearchSources(DocumentIndex.from_dir(args.docs) if args.docs else None,
                           SearxngSearch(args.search_url) if args.search_url else None)


def llm_councils_from_args(args: argparse.Namespace, runs_dir: str | Path,
                           check: bool = True) -> tuple[Any, str]:
    """The councils and the run id (fixed here so the call log lands in the run dir)."""
    from deepthinker_nb.llm import LLMClient, LLMConfig
    from deepthinker_nb.llm.config import ENV_MODEL
    from deepthinker_nb.workflow.councils import Councils
    from deepthinker_nb.workflow.councils.llm import (
        coder_panel,
        llm_councils,
        log_path,
        parse_coders,
        with_coders,
    )

    coders = parse_coders(args.coders) if getattr(args, "coders", None) else None
    sources = _sources(args)
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    models = [c.model for c in coders or () if c.model is not None]
    if coders and not models and sources is None and not any(
            (args.llm_url, args.model, args.llm_replay)):
        return Councils(coder=coder_panel(coders)), run_id  # offline members only
    if sources is not None and not (args.model or models or args.llm_replay
                                    or os.environ.get(ENV_MODEL)):
        flag = "--docs" if args.docs else "--search-url"
        raise ConfigError(f"{flag}: the researcher reads sources through a model; name one "
                          f"with --model (or {ENV_MODEL})")
    config = LLMConfig.from_env(
        base_url=args.llm_url,
        model=args.model or (None if os.environ.get(ENV_MODEL) else next(iter(models), None)),
        timeout=args.llm_timeout, max_requests=args.llm_max_requests,
        replay=Path(args.llm_replay) if args.llm_replay else None)
    if coders:
        config = with_coders(config, coders)
    if args.coder_model:
        config = config.with_role("coder", model=args.coder_model)
    if args.evaluator_model:
        config = config.with_role("evaluator", model=args.evaluator_model)
    roles = [r.strip() for r in (args.llm_roles or "").split(",") if r.strip()]
    client = LLMClient(config, log_path(runs_dir, run_id))
    if check:
        client.check()  # an unreachable server or unknown model stops here, before any kernel
    return llm_councils(config, roles=roles, client=client, coders=coders,
                        sources=sources), run_id


__all__ = ["add_llm_options", "llm_councils_from_args", "llm_wanted"]
