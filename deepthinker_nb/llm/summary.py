"""The call summary of a run, from its ``llm_calls.jsonl``: what the manifest's ``llm`` section
and the report show (calls, tokens, latency, failures, per council and per model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _bucket() -> dict[str, Any]:
    return {"calls": 0, "failures": 0, "tokens_in": 0, "tokens_out": 0, "latency_total": 0.0}


def _add(bucket: dict[str, Any], record: dict[str, Any]) -> None:
    bucket["calls"] += 1
    bucket["failures"] += int(record.get("error") is not None)
    bucket["tokens_in"] += int(record.get("prompt_tokens") or 0)
    bucket["tokens_out"] += int(record.get("completion_tokens") or 0)
    bucket["latency_total"] += float(record.get("latency") or 0.0)


def _finish(bucket: dict[str, Any]) -> dict[str, Any]:
    calls = bucket["calls"]
    bucket["latency_total"] = round(bucket["latency_total"], 4)
    bucket["latency_mean"] = round(bucket["latency_total"] / calls, 4) if calls else 0.0
    return bucket


def call_summary(path: Path | str) -> dict[str, Any] | None:
    """The summary of the call log at ``path``, or None when the run made no model call.

    ``council`` is the role before any ``:member`` (``coder:qwen-t0.2`` counts for ``coder``
    and for its member); ``mode`` is ``live``, ``replayed`` or ``mixed``. A line that is not
    JSON (a run killed mid-write) is skipped.
    """
    path = Path(path)
    if not path.is_file():
        return None
    total = _bucket()
    councils: dict[str, dict[str, Any]] = {}
    members: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    replayed = mismatches = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        role = str(record.get("role") or "?")
        _add(total, record)
        _add(councils.setdefault(role.split(":", 1)[0], _bucket()), record)
        if ":" in role:
            _add(members.setdefault(role, _bucket()), record)
        _add(models.setdefault(str(record.get("model") or "?"), _bucket()), record)
        replayed += int(bool(record.get("replayed")))
        mismatches += int(bool(record.get("replay_mismatch")))
    if not total["calls"]:
        return None
    summary = _finish(total)
    summary["mode"] = ("replayed" if replayed == total["calls"]
                       else "live" if not replayed else "mixed")
    summary["replayed"] = replayed
    summary["replay_mismatches"] = mismatches
    summary["per_council"] = {k: _finish(v) for k, v in sorted(councils.items())}
    if members:
        summary["per_member"] = {k: _finish(v) for k, v in sorted(members.items())}
    summary["per_model"] = {k: _finish(v) for k, v in sorted(models.items())}
    summary["log"] = path.name
    return summary


__all__ = ["call_summary"]
