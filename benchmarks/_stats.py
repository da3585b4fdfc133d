"""Small statistics helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": percentile(values, 95),
            "n": float(len(values))}


def ms(value: float) -> str:
    return f"{value * 1000:8.2f} ms"
