"""VersionedPusher component: the stock Pusher's inputs plus what the manifest links to."""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import channel, component_spec, standard_artifacts

from components.shared.artifacts import ModelVariants
from components.shared.params import component_fingerprint, encode
from components.versioned_pusher import executor as executor_lib
from components.versioned_pusher.executor import Executor
from components.versioned_pusher.params import Provenance, PushDestination, PushEvidence

__all__ = ["VersionedPusher", "VersionedPusherSpec"]

_Channel = component_spec.ChannelParameter
_Param = component_spec.ExecutionParameter


class VersionedPusherSpec(component_spec.ComponentSpec):
    """Channels, and the parameter objects as JSON text (see components/shared/params.py)."""

    PARAMETERS = {
        executor_lib.DESTINATION_KEY: _Param(type=str),
        executor_lib.PROVENANCE_KEY: _Param(type=str, optional=True),
        executor_lib.CODE_FINGERPRINT_KEY: _Param(type=str, optional=True),
    }
    INPUTS = {
        executor_lib.MODEL_KEY: _Channel(type=standard_artifacts.Model),
        executor_lib.MODEL_BLESSING_KEY: _Channel(type=standard_artifacts.ModelBlessing),
        executor_lib.MODEL_EVALUATION_KEY: _Channel(
            type=standard_artifacts.ModelEvaluation, optional=True),
        executor_lib.BASELINE_MODEL_KEY: _Channel(type=standard_artifacts.Model, optional=True),
        executor_lib.SCHEMA_KEY: _Channel(type=standard_artifacts.Schema, optional=True),
        executor_lib.EXAMPLES_KEY: _Channel(type=standard_artifacts.Examples, optional=True),
        executor_lib.VARIANTS_KEY: _Channel(type=ModelVariants, optional=True),
    }
    OUTPUTS = {
        executor_lib.PUSHED_MODEL_KEY: _Channel(type=standard_artifacts.PushedModel),
    }


class VersionedPusher(base_component.BaseComponent):
    """Pushes a blessed model to `<serving_dir>/<model_name>/<N>/`, N = 1, 2, 3, ...

    Unlike the stock Pusher's timestamp versions, versions are consecutive integers, and each
    carries a `manifest.json` tying it to its run, data, schema, hyperparameters, code, metrics
    and the version it was compared against. `pushed_model` has the stock Pusher's custom
    properties (`pushed`, `pushed_destination`, `pushed_version`) plus `manifest`.

    With `variants` (the VariantEvaluator's output), the blessed optimized variants are pushed
    in the same version, under `<N>/variants/<name>/`, and the manifest lists every variant
    (blessed or not, why, sizes, latency, per-slice deltas). Nothing of a variant is pushed
    unless the dense model is blessed.
    """

    SPEC_CLASS = VersionedPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: channel.BaseChannel, model_blessing: channel.BaseChannel,
                 destination: PushDestination, evidence: PushEvidence | None = None,
                 provenance: Provenance | None = None,
                 variants: channel.BaseChannel | None = None):
        """`evidence`: the channels the manifest links to; `provenance`: values it records as
        given; `examples` in `evidence` may hold several artifacts (the spans of a window)."""
        evidence = evidence or PushEvidence()
        super().__init__(
            spec=VersionedPusherSpec(
                model=model,
                model_blessing=model_blessing,
                model_evaluation=evidence.model_evaluation,
                baseline_model=evidence.baseline_model,
                schema=evidence.schema,
                examples=evidence.examples,
                variants=variants,
                destination=encode(destination),
                provenance=encode(provenance or Provenance()),
                code_fingerprint=component_fingerprint(__file__),
                pushed_model=channel.Channel(type=standard_artifacts.PushedModel),
            )
        )
