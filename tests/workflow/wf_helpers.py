"""Test doubles shared by the workflow tests (imported as ``wf_helpers``)."""

from __future__ import annotations

from deepthinker_nb.workflow import CodeProposal

MAJORITY_CELL = """\
import pandas as pd

train = pd.read_csv(DATA_PATH)
test_features = pd.read_csv(TEST_FEATURES_PATH)
label = train[TARGET].mode()[0]
pd.DataFrame({"row_id": test_features["row_id"], "prediction": label}).to_csv(
    PREDICTIONS_PATH, index=False)
"""


class ScriptedCoder:
    """A test coder: proposes the given cell lists in order (the last one repeats)."""

    def __init__(self, *proposals: list[str] | str, models: list[str] | None = None):
        self.proposals = [[p] if isinstance(p, str) else list(p) for p in proposals]
        self.models = models
        self.requests = []

    def propose(self, request):
        self.requests.append(request)
        index = min(request.iteration, len(self.proposals)) - 1
        model = self.models[index] if self.models else f"scripted_{index + 1}"
        return CodeProposal(cells=self.proposals[index], rationale="scripted", model=model)
