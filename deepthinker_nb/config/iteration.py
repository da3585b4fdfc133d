"""How long the coding loop may go on."""

from __future__ import annotations

from dataclasses import dataclass

from deepthinker_nb.errors import ConfigError


@dataclass(frozen=True)
class IterationConfig:
    """Stop at ``quality_threshold``, after ``max_iterations``, or when the score stalls.

    ``patience`` counts iterations in a row that fail to beat the best score by at least
    ``min_improvement``; ``None`` disables the stall rule. ``enabled=False`` runs one iteration.
    ``time_budget``: seconds for the whole run; the per-cell limit (unless one is given) is
    its share, and no iteration starts that would not leave time for the simulation and the
    recording. ``None``: no budget (cells get a limit that follows the data's size).
    """

    max_iterations: int = 5
    quality_threshold: float = 8.0
    enabled: bool = True
    patience: int | None = 2
    min_improvement: float = 0.05
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_iterations, bool) or not isinstance(self.max_iterations, int) or (
            self.max_iterations < 1
        ):
            raise ConfigError(
                f"IterationConfig.max_iterations: must be a whole number >= 1, got "
                f"{self.max_iterations!r}"
            )
        if not isinstance(self.quality_threshold, (int, float)) or not (
            0.0 <= self.quality_threshold <= 10.0
        ):
            raise ConfigError(
                "IterationConfig.quality_threshold: must be between 0 and 10 (the score scale), "
                f"got {self.quality_threshold!r}"
            )
        if self.patience is not None and (
            isinstance(self.patience, bool) or not isinstance(self.patience, int)
            or self.patience < 1
        ):
            raise ConfigError(
                f"IterationConfig.patience: must be >= 1 or None, got {self.patience!r}"
            )
        if self.min_improvement < 0:
            raise ConfigError("IterationConfig.min_improvement: must be >= 0")
        if self.time_budget is not None and (
            isinstance(self.time_budget, bool) or not isinstance(self.time_budget, (int, float))
            or self.time_budget <= 0
        ):
            raise ConfigError(
                f"IterationConfig.time_budget: must be > 0 seconds or None, got "
                f"{self.time_budget!r}"
            )

    @property
    def effective_max_iterations(self) -> int:
        return self.max_iterations if self.enabled else 1
