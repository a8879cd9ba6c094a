"""VersionedPusher executor: pushes a blessed SavedModel as the next integer version, atomically.

TensorFlow Serving watches `<serving_dir>/<model_name>/` and loads the highest integer-named
directory, so a version must never be visible half-copied: it is assembled in a dot-named temp
directory (which Serving ignores) and renamed into place in one step.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from absl import logging
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, path_utils

from components.versioned_pusher import manifest as manifest_lib

# Channel and parameter names: the stock Pusher's where they mean the same thing.
MODEL_KEY = standard_component_specs.MODEL_KEY
MODEL_BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
MODEL_EVALUATION_KEY = "model_evaluation"
BASELINE_MODEL_KEY = standard_component_specs.BASELINE_MODEL_KEY
SCHEMA_KEY = standard_component_specs.SCHEMA_KEY
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
VARIANTS_KEY = "variants"
PUSHED_MODEL_KEY = standard_component_specs.PUSHED_MODEL_KEY
SERVING_DIR_KEY = "serving_dir"
MODEL_NAME_KEY = "model_name"
DATA_FILES_KEY = "data_files"
HYPERPARAMETERS_KEY = "hyperparameters"
CODE_REVISION_KEY = "code_revision"
SPANS_KEY = "spans"

# PushedModel custom properties: the stock Pusher's three, plus where the manifest is.
PUSHED = "pushed"
PUSHED_DESTINATION = "pushed_destination"
PUSHED_VERSION = "pushed_version"
MANIFEST = "manifest"
# 1 when the blessed model already was the newest version, so no new number was taken.
ALREADY_SERVED = "already_served"

SCHEMA_FILE = "schema.pbtxt"
TEMP_PREFIX = ".tmp-"
_MAX_RENAME_ATTEMPTS = 100
_VERSION_NAME = re.compile(r"[0-9]+")
# What rename(2) reports when the target name is already taken (by a dir or a file).
_TAKEN = {errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR}


def existing_versions(model_dir: str) -> list[int]:
    """Integer-named directories only: temp dirs and stray files are not versions to Serving."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(name) for name in os.listdir(model_dir)
        if _VERSION_NAME.fullmatch(name) and os.path.isdir(os.path.join(model_dir, name)))


def next_version(model_dir: str) -> int:
    return max(existing_versions(model_dir), default=0) + 1


def read_manifest(model_dir: str, version: int) -> dict[str, Any] | None:
    path = os.path.join(model_dir, str(version), manifest_lib.MANIFEST_FILE)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def version_of_model(model_dir: str, model_uri: str) -> int | None:
    """The pushed version whose manifest names this model artifact uri (the newest if several)."""
    for version in reversed(existing_versions(model_dir)):
        recorded = read_manifest(model_dir, version)
        if recorded and (recorded.get("model") or {}).get("uri") == model_uri:
            return version
    return None


def _variants_uri(manifest: dict[str, Any] | None) -> str | None:
    source = ((manifest or {}).get("optimization") or {}).get("variants_artifact") or {}
    return source.get("uri")


def publish(model_dir: str, model_path: str, schema_file: str | None,
            manifest_for: Callable[[int], dict[str, Any]],
            extras: Sequence[tuple[str, str]] = ()) -> tuple[int, str]:
    """Copy model, schema and manifest aside, then rename to the next free version number.

    `manifest_for(version)` returns the manifest dict; it is rewritten when a concurrent pusher
    takes the number first, so the recorded version always matches the directory name. A taken
    name makes rename(2) fail, except an *empty* directory, which it replaces: harmless, as
    next_version counts empty integer directories, so only one made in that instant is at risk.
    `extras` are (source file or folder, path inside the version) copied aside with the model,
    so they appear with the version or not at all.
    """
    os.makedirs(model_dir, exist_ok=True)
    temp_dir = os.path.join(model_dir, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
    try:
        io_utils.copy_dir(model_path, temp_dir)
        if schema_file:
            io_utils.copy_file(schema_file, os.path.join(temp_dir, SCHEMA_FILE))
        for source, relative in extras:
            target = os.path.join(temp_dir, relative)
            if os.path.isdir(source):
                io_utils.copy_dir(source, target)
            else:
                io_utils.copy_file(source, target)
        version = next_version(model_dir)
        for _ in range(_MAX_RENAME_ATTEMPTS):
            target = os.path.join(model_dir, str(version))
            io_utils.write_string_file(os.path.join(temp_dir, manifest_lib.MANIFEST_FILE),
                                       manifest_lib.to_json(manifest_for(version)))
            try:
                os.rename(temp_dir, target)
            except OSError as error:
                if error.errno not in _TAKEN:
                    raise
                logging.info("Version %d was taken concurrently; trying the next.", version)
                version = max(version + 1, next_version(model_dir))
                continue
            return version, target
        raise RuntimeError(f"No free version number in {model_dir} after "
                           f"{_MAX_RENAME_ATTEMPTS} attempts")
    finally:
        # After a successful rename the temp name no longer exists; otherwise nothing is left.
        shutil.rmtree(temp_dir, ignore_errors=True)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with fileio.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_metrics(evaluation_uri: str) -> dict[str, Any]:
    """Candidate metrics overall and per slice from the Evaluator's TFMA output."""
    import tensorflow_model_analysis as tfma

    eval_config = tfma.writers.eval_config_writer.load_eval_run(evaluation_uri)[0]
    baselines = ([spec.name for spec in eval_config.model_specs if spec.is_baseline]
                 if eval_config else [tfma.BASELINE_KEY])
    return manifest_lib.metrics_from_tfma(tfma.load_metrics(evaluation_uri), baselines)


def read_failures(evaluation_uri: str) -> list[dict[str, Any]]:
    import tensorflow_model_analysis as tfma

    return manifest_lib.validation_failures(tfma.load_validation_result(evaluation_uri))


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


def _json_param(exec_properties: dict[str, Any], key: str) -> Any:
    text = exec_properties.get(key)
    return json.loads(text) if text else None


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
        evaluation = _single(input_dict, MODEL_EVALUATION_KEY)
        model_dir = os.path.join(exec_properties[SERVING_DIR_KEY],
                                 exec_properties[MODEL_NAME_KEY])
        if not model_utils.is_model_blessed(blessing):
            self._log_not_blessed(blessing, evaluation, model_dir)
            if _single(input_dict, VARIANTS_KEY) is not None:
                logging.warning("No variant pushed either: variants go only with a blessed "
                                "dense model.")
            pushed_model.set_int_custom_property(PUSHED, 0)
            return

        model = artifact_utils.get_single_instance(input_dict[MODEL_KEY])
        model_path = path_utils.serving_model_path(
            model.uri, path_utils.is_old_model_artifact(model))
        variants = _single(input_dict, VARIANTS_KEY)
        served = existing_versions(model_dir)
        # The same model with the same variants: a new number would only duplicate it. (New
        # variants of the served model, e.g. another target sparsity, do take a new version.)
        if (served and version_of_model(model_dir, model.uri) == served[-1]
                and _variants_uri(read_manifest(model_dir, served[-1]))
                == (variants.uri if variants else None)):
            self._record_push(pushed_model, served[-1], os.path.join(model_dir, str(served[-1])),
                              already_served=True)
            logging.info("%s is already the served version %d; nothing new pushed.",
                         model.uri, served[-1])
            return
        baseline = _single(input_dict, BASELINE_MODEL_KEY)
        schema = _single(input_dict, SCHEMA_KEY)
        schema_file = os.path.join(schema.uri, SCHEMA_FILE) if schema else None
        # Several Examples artifacts when the model was trained on a window of spans.
        window = sorted(input_dict.get(EXAMPLES_KEY) or [],
                        key=lambda a: (a.get_int_custom_property("span")
                                       if a.has_custom_property("span") else 0, a.id or 0))
        examples = window[-1] if window else None
        fields = {
            "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "pipeline_name": self._pipeline_name(),
            "pipeline_run_id": self._pipeline_run_id(),
            "model_name": exec_properties[MODEL_NAME_KEY],
            "model": {**_ref(model), "path": model_path},
            "data_files": _json_param(exec_properties, DATA_FILES_KEY),
            "examples": _examples_ref(examples),
            "examples_window": [_examples_ref(a) for a in window],
            "spans": _json_param(exec_properties, SPANS_KEY),
            "schema": None if schema_file is None else {
                **_ref(schema), "sha256": file_sha256(schema_file), "file": SCHEMA_FILE},
            "hyperparameters": _json_param(exec_properties, HYPERPARAMETERS_KEY),
            "code_revision": _json_param(exec_properties, CODE_REVISION_KEY),
            "metrics": read_metrics(evaluation.uri) if evaluation else None,
            "blessing": {"blessed": True, **_ref(blessing)},
            "baseline_model": _ref(baseline),
            "baseline_version": version_of_model(model_dir, baseline.uri) if baseline else None,
        }
        extras: list[tuple[str, str]] = []
        if variants is not None:
            fields["variants"], fields["optimization"], extras = self._variants(variants)
        version, version_dir = publish(
            model_dir, model_path, schema_file,
            lambda v: manifest_lib.build_manifest(version=v, **fields), extras)
        self._record_push(pushed_model, version, version_dir, already_served=False)
        logging.info("Pushed %s as version %d to %s.", model.uri, version, version_dir)

    @staticmethod
    def _variants(variants: types.Artifact) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                      list[tuple[str, str]]]:
        """The manifest's variants sections, and the blessed variants' files to copy."""
        from components.variant_evaluator.executor import read_variants

        result = read_variants(variants.uri)
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
        return entries, optimization, extras

    @staticmethod
    def _record_push(pushed_model: types.Artifact, version: int, version_dir: str,
                     already_served: bool) -> None:
        manifest_path = os.path.join(version_dir, manifest_lib.MANIFEST_FILE)
        # A copy in the artifact keeps the record in the pipeline root even if versions are pruned.
        io_utils.copy_file(manifest_path,
                           os.path.join(pushed_model.uri, manifest_lib.MANIFEST_FILE), True)
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
