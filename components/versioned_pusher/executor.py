"""VersionedPusher executor: pushes a blessed SavedModel as the next integer version, atomically,
with a manifest beside it (see publish.py and manifest.py)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from typing import Any

from absl import logging
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, path_utils

from components.shared.artifacts import ModelVariants, read_json, span_of
from components.shared.model_contract import OUTPUTS, TRAINING_SUMMARY, TUNED
from components.shared.params import decode
from components.shared.tfma_metrics import read_failures, read_metrics
from components.versioned_pusher import manifest as manifest_lib
from components.versioned_pusher.params import Provenance, PushDestination
from components.versioned_pusher.publish import publish
from components.versioned_pusher.versions import (
    MANIFEST_FILE,
    SCHEMA_FILE,
    existing_versions,
    read_manifest,
    variants_uri,
    version_of_model,
)

# Channel and parameter names: the stock Pusher's where they mean the same thing.
MODEL_KEY = standard_component_specs.MODEL_KEY
MODEL_BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
MODEL_EVALUATION_KEY = "model_evaluation"
BASELINE_MODEL_KEY = standard_component_specs.BASELINE_MODEL_KEY
SCHEMA_KEY = standard_component_specs.SCHEMA_KEY
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
VARIANTS_KEY = "variants"
PUSHED_MODEL_KEY = standard_component_specs.PUSHED_MODEL_KEY
DESTINATION_KEY = "destination"
PROVENANCE_KEY = "provenance"
CODE_FINGERPRINT_KEY = "code_fingerprint"

# PushedModel custom properties: the stock Pusher's three, plus where the manifest is.
PUSHED = "pushed"
PUSHED_DESTINATION = "pushed_destination"
PUSHED_VERSION = "pushed_version"
MANIFEST = "manifest"
# 1 when the blessed model already was the newest version, so no new number was taken.
ALREADY_SERVED = "already_served"


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with fileio.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _single(input_dict: dict[str, list[types.Artifact]], key: str) -> types.Artifact | None:
    """The one artifact of an optional channel; None when absent (no baseline on a first run)."""
    artifacts = input_dict.get(key) or []
    return artifact_utils.get_single_instance(artifacts) if artifacts else None


def _ref(artifact: types.Artifact | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    return {"uri": artifact.uri, "id": artifact.id or None}


def _examples_ref(examples: types.Artifact | None) -> dict[str, Any] | None:
    """Uri and id, plus ExampleGen's span and version when it set them."""
    if examples is None:
        return None
    ref = {"uri": examples.uri, "id": examples.id or None}
    ref.update({p: getattr(examples, p) for p in ("span", "version") if examples.has_property(p)})
    # ExampleGen records span (and version) as custom properties; those win when present.
    ref.update({p: examples.get_int_custom_property(p) for p in ("span", "version")
                if examples.has_custom_property(p)})
    if examples.has_custom_property("window_spans"):  # a window of spans (SpanWindow)
        ref["window_spans"] = json.loads(examples.get_string_custom_property("window_spans"))
    return ref


class Executor(base_executor.BaseExecutor):
    """Pushes a blessed model to `<serving_dir>/<model_name>/<N>/` with a manifest beside it.

    The pipeline name and run id come from the executor context the TFX launcher passes in
    (`BaseExecutor.Context.pipeline_info.id` and `.pipeline_run_id`); they are null when the
    executor is run without one, as in unit tests.
    """

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[PUSHED_MODEL_KEY])
        blessing = artifact_utils.get_single_instance(input_dict[MODEL_BLESSING_KEY])
        destination = decode(exec_properties[DESTINATION_KEY], PushDestination)
        model_dir = os.path.join(destination.serving_dir, destination.model_name)
        variants = _single(input_dict, VARIANTS_KEY)
        if not model_utils.is_model_blessed(blessing):
            self._log_not_blessed(blessing, _single(input_dict, MODEL_EVALUATION_KEY),
                                  model_dir)
            if variants is not None:
                logging.warning("No variant pushed either: variants go only with a blessed "
                                "dense model.")
            pushed_model.set_int_custom_property(PUSHED, 0)
            return
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        served = existing_versions(model_dir)
        # The same model with the same variants: a new number would only duplicate it. (New
        # variants of the served model, e.g. another target sparsity, do take a new version.)
        if (served and version_of_model(model_dir, model.uri) == served[-1]
                and variants_uri(read_manifest(model_dir, served[-1]))
                == (variants.uri if variants else None)):
            self._record_push(pushed_model, served[-1], os.path.join(model_dir, str(served[-1])),
                              already_served=True)
            logging.info("%s is already the served version %d; nothing new pushed.",
                         model.uri, served[-1])
            return
        self._push(input_dict, exec_properties, destination, pushed_model)

    def _push(self, input_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any],
              destination: PushDestination, pushed_model: types.Artifact) -> None:
        model_dir = os.path.join(destination.serving_dir, destination.model_name)
        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        model_path = path_utils.serving_model_path(
            model.uri, path_utils.is_old_model_artifact(model))
        schema = _single(input_dict, SCHEMA_KEY)
        schema_file = os.path.join(schema.uri, SCHEMA_FILE) if schema else None
        origin = manifest_lib.Origin(
            pushed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(),
            pipeline_name=self._pipeline_name(), pipeline_run_id=self._pipeline_run_id(),
            model_name=destination.model_name)
        # Several Examples artifacts when the model was trained on a window of spans.
        window = sorted(input_dict.get(EXAMPLES_KEY) or [], key=lambda a: (span_of(a), a.id or 0))
        data = manifest_lib.TrainingData(
            examples=_examples_ref(window[-1] if window else None),
            examples_window=[_examples_ref(a) for a in window],
            schema=None if schema_file is None else {
                **_ref(schema), "sha256": file_sha256(schema_file), "file": SCHEMA_FILE})
        judgement = self._judgement(input_dict, model_dir)
        provenance = decode(exec_properties.get(PROVENANCE_KEY), Provenance, Provenance())
        variants = _single(input_dict, VARIANTS_KEY)
        section, extras = self._variants(variants) if variants is not None else (None, [])
        # What the model's output means (the Trainer's training summary): classes in order;
        # and the hyperparameters a Tuner chose.
        training = read_json(model.uri, TRAINING_SUMMARY) or {}
        outputs = training.get(OUTPUTS)
        provenance = manifest_lib.with_tuned(provenance, training.get(TUNED))
        model_ref = {**_ref(model), "path": model_path, "outputs": outputs}
        version, version_dir = publish(
            model_dir, model_path, schema_file,
            lambda v: manifest_lib.build_manifest(v, model_ref, origin, data, provenance,
                                                  judgement, section),
            extras)
        self._record_push(pushed_model, version, version_dir, already_served=False)
        logging.info("Pushed %s as version %d to %s.", model.uri, version, version_dir)

    @staticmethod
    def _judgement(input_dict: dict[str, list[types.Artifact]], model_dir: str
                   ) -> manifest_lib.Judgement:
        evaluation = _single(input_dict, MODEL_EVALUATION_KEY)
        blessing = artifact_utils.get_single_instance(input_dict[MODEL_BLESSING_KEY])
        baseline = _single(input_dict, BASELINE_MODEL_KEY)
        return manifest_lib.Judgement(
            metrics=manifest_lib.metrics_section(read_metrics(evaluation.uri))
            if evaluation else None,
            blessing={"blessed": True, **_ref(blessing)},
            baseline_model=_ref(baseline),
            baseline_version=version_of_model(model_dir, baseline.uri) if baseline else None)

    @staticmethod
    def _variants(variants: types.Artifact
                  ) -> tuple[tuple[list[dict[str, Any]], dict[str, Any]], list[tuple[str, str]]]:
        """The manifest's variants sections, and the blessed variants' files to copy."""
        result = read_json(variants.uri, ModelVariants.FILE)
        if result is None:
            raise FileNotFoundError(f"{variants.uri} holds no {ModelVariants.FILE}")
        blessed = [v for v in result["variants"] if v.get("blessed")]
        extras = [(v["source"], os.path.join(manifest_lib.VARIANTS_DIR, v["name"]))
                  for v in blessed]
        entries, optimization = manifest_lib.variants_section(
            result, {v["name"] for v in blessed})
        optimization["variants_artifact"] = _ref(variants)
        for entry in entries:
            logging.info("Variant %s: %s", entry["name"],
                         f"pushed to {entry['path']}" if entry["path"]
                         else f"not pushed ({entry['not_pushed']})")
        return (entries, optimization), extras

    @staticmethod
    def _record_push(pushed_model: types.Artifact, version: int, version_dir: str,
                     already_served: bool) -> None:
        manifest_path = os.path.join(version_dir, MANIFEST_FILE)
        # A copy in the artifact keeps the record in the pipeline root even if versions are pruned.
        io_utils.copy_file(manifest_path, os.path.join(pushed_model.uri, MANIFEST_FILE), True)
        pushed_model.set_int_custom_property(PUSHED, 1)
        pushed_model.set_string_custom_property(PUSHED_DESTINATION, version_dir)
        pushed_model.set_string_custom_property(PUSHED_VERSION, str(version))
        pushed_model.set_string_custom_property(MANIFEST, manifest_path)
        pushed_model.set_int_custom_property(ALREADY_SERVED, int(already_served))

    def _pipeline_name(self) -> str | None:
        info = self._context.pipeline_info if self._context else None
        return info.id if info and info.id else None

    def _pipeline_run_id(self) -> str | None:
        return (self._context.pipeline_run_id or None) if self._context else None

    @staticmethod
    def _log_not_blessed(blessing: types.Artifact, evaluation: types.Artifact | None,
                         model_dir: str) -> None:
        """Say which thresholds failed, so a not-pushed run explains itself in the log."""
        failures = read_failures(evaluation.uri) if evaluation else []
        logging.warning("Model not blessed (%s); nothing pushed to %s.", blessing.uri, model_dir)
        for failure in failures:
            logging.warning("  failed: %s%s on slice %s = %s (%s)", failure["metric"],
                            " (diff vs baseline)" if failure["is_diff"] else "",
                            failure["slice"] or "overall", failure["value"], failure["threshold"])
        if evaluation and not failures:
            logging.warning("  the validation result lists no failing metric.")
