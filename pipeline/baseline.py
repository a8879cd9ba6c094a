"""The Evaluator's baseline: the latest blessed model *other than the candidate*.

TFX's LatestBlessedModelStrategy returns the newest blessed model. On a rerun where the Trainer is
served from cache, that is the candidate itself: the Evaluator then compares the model with
itself (its inputs changed, so it is not cached), blesses it, and the Pusher pushes the same model
again as a new version. Resolving with the candidate excluded gives a rerun the same baseline as
the first run, so the whole run is served from cache, and a new model is still compared with the
one that was blessed before it.
"""

from __future__ import annotations

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)

CANDIDATE_KEY = "candidate"
MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"


class LatestBlessedOtherModelStrategy(LatestBlessedModelStrategy):
    """Inputs `model`, `model_blessing` (all of them) and `candidate` (this run's Trainer output).

    Outputs the latest blessed model that is not the candidate, with its blessing, or nothing.
    """

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        candidates = {a.id for a in input_dict.get(CANDIDATE_KEY, [])}
        others = {
            MODEL_KEY: [m for m in input_dict.get(MODEL_KEY, []) if m.id not in candidates],
            MODEL_BLESSING_KEY: list(input_dict.get(MODEL_BLESSING_KEY, [])),
        }
        result = super().resolve_artifacts(store, others) or {MODEL_KEY: [], MODEL_BLESSING_KEY: []}
        result[CANDIDATE_KEY] = list(input_dict.get(CANDIDATE_KEY, []))
        return result
