"""`tfxpipe lineage`: where a pushed version came from, read back from ML Metadata and its manifest.

For a pushed version: the spans and files it was trained on (with their SHA-256, and whether the
files on disk still match), the schema, the hyperparameters the Trainer ran with, the code
revision, and the baseline it was compared with, with both models' figures on the same eval
data. ML Metadata is walked from the PushedModel artifact back through the VersionedPusher,
Evaluator, Trainer and ExampleGen executions; the manifest written beside the model is read too,
and any disagreement between the two is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from components.shared.tfma_metrics import read_metrics
from components.versioned_pusher.versions import MANIFEST_FILE, existing_versions
from pipeline.config import Config, ConfigError
from pipeline.records.mlmd import event_map, open_store, property_value

INPUT, OUTPUT = metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.OUTPUT


def _producer(store, artifact_id: int):
    """The execution that output this artifact (the first one: later ones are cache hits)."""
    events = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == OUTPUT]
    if not events:
        return None
    return store.get_executions_by_id([min(e.execution_id for e in events)])[0]


def _sha256(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(config: Config, version: int | None) -> tuple[int, Path, dict[str, Any]]:
    model_dir = config.model_dir
    versions = existing_versions(str(model_dir))
    if not versions:
        raise ConfigError(f"no pushed version of '{config.pipeline.model_name}' under "
                          f"{model_dir}: run 'tfxpipe run' first")
    version = version or versions[-1]
    if version not in versions:
        raise ConfigError(f"version {version} of '{config.pipeline.model_name}' is not in "
                          f"{model_dir}; versions there: {', '.join(map(str, versions))}")
    folder = model_dir / str(version)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: version {version} has no manifest")
    try:
        return version, folder, json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # a manifest edited or cut by hand: the pusher writes it whole
        raise ConfigError(f"{path} is not valid JSON ({error}): restore it, or roll back to "
                          "another version") from None


def lineage(config: Config, version: int | None = None, metrics: bool = True
            ) -> dict[str, Any]:
    """Everything known about a pushed version, as JSON-friendly data. A rollback's version is
    the lineage of the version it serves again, with the rollback (when, why, from which)."""
    version, folder, manifest = _read_manifest(config, version)
    if manifest.get("rollback"):
        section = manifest["rollback"]
        result = lineage(config, int(section["of_version"]), metrics)
        result.update(version=version, path=str(folder), pushed_at=manifest.get("pushed_at"),
                      pushed_at_first=result.get("pushed_at"), rollback=section)
        return result
    store = open_store(config.metadata_path)
    pushed = [a for a in store.get_artifacts_by_type("PushedModel")
              if str(property_value(a, "pushed_version")) == str(version)
              and property_value(a, "pushed_destination") == str(folder)
              and not property_value(a, "already_served")]
    problems: list[str] = []
    result: dict[str, Any] = {"version": version, "path": str(folder),
                              "model_name": config.pipeline.model_name,
                              "pushed_at": manifest.get("pushed_at"),
                              "run_id": manifest.get("pipeline_run_id"),
                              "code_revision": manifest.get("code_revision")}
    if not pushed:
        problems.append(f"ML Metadata ({config.metadata_path}) has no PushedModel for version "
                        f"{version}: only the manifest is shown")
        result.update(_from_manifest(manifest))
        result["problems"] = problems
        return result
    pusher = _producer(store, min(pushed, key=lambda a: a.id).id)
    inputs = event_map(store, pusher.id, INPUT)
    [model] = inputs.get("model", [None])[:1] or [None]
    result["model"] = {"uri": model.uri, "id": model.id} if model else None
    if model and (manifest.get("model") or {}).get("uri") != model.uri:
        problems.append("the manifest names another model artifact than ML Metadata")

    result["spans"] = _spans(store, _per_span(store, inputs.get("examples", [])), manifest,
                             problems)
    result["schema"] = _schema(store, inputs.get("schema", []), manifest, problems)
    if config.schema.path and result["schema"]:
        result["schema"]["curated"] = config.schema.path
        result["schema"]["same_as_curated_now"] = (
            _sha256(config.schema.path) == result["schema"].get("sha256"))
    result["hyperparameters"] = _trainer(store, model, manifest, problems)
    result["evaluation"] = _evaluation(store, inputs, manifest, metrics)
    result["problems"] = problems
    return result


def _from_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"spans": manifest.get("spans"), "schema": manifest.get("schema"),
            "hyperparameters": manifest.get("hyperparameters"),
            "evaluation": {"metrics": (manifest.get("metrics") or {}).get("overall"),
                           "baseline_version": manifest.get("baseline_version")}}


def _per_span(store, examples: list) -> list:
    """The per-span Examples behind a window artifact (SpanWindow's inputs), else as given."""
    found = []
    for artifact in examples:
        window = property_value(artifact, "window_spans")
        producer = _producer(store, artifact.id) if window else None
        found += event_map(store, producer.id, INPUT).get("examples", []) if producer \
            else [artifact]
    return found


def _spans(store, examples: list, manifest: dict[str, Any], problems: list[str]
           ) -> list[dict[str, Any]]:
    recorded = {s["span"]: s for s in manifest.get("spans") or []}
    rows = []
    for artifact in sorted(examples, key=lambda a: (property_value(a, "span") or 0, a.id)):
        span = property_value(artifact, "span") or 0
        producer = _producer(store, artifact.id)
        input_base = property_value(producer, "input_base") if producer else None
        input_config = (json.loads(property_value(producer, "input_config") or "{}")
                        if producer else {})
        patterns = [s.get("pattern") for s in input_config.get("splits", [])]
        files = []
        for entry in (recorded.get(span) or {}).get("files", []):
            now = _sha256(entry["path"])
            files.append({**entry, "unchanged_on_disk": now == entry["sha256"],
                          "exists": now is not None})
        rows.append({"span": span, "examples_id": artifact.id, "examples_uri": artifact.uri,
                     "input_fingerprint": property_value(artifact, "input_fingerprint"),
                     "read_from": [os.path.join(input_base or "", p) for p in patterns],
                     "example_gen_execution": producer.id if producer else None,
                     "files": files})
        if span not in recorded:
            problems.append(f"span {span} is an input in ML Metadata but not in the manifest")
    missing = sorted(set(recorded) - {r["span"] for r in rows})
    if missing:
        problems.append(f"spans {missing} are in the manifest but not in ML Metadata")
    return rows


def _schema(store, schemas: list, manifest: dict[str, Any], problems: list[str]
            ) -> dict[str, Any] | None:
    if not schemas:
        return manifest.get("schema")
    schema = schemas[0]
    producer = _producer(store, schema.id)
    path = os.path.join(schema.uri, "schema.pbtxt")
    sha = _sha256(path)
    recorded = (manifest.get("schema") or {}).get("sha256")
    if recorded and sha and recorded != sha:
        problems.append("the schema artifact's content differs from the manifest's hash")
    return {"uri": schema.uri, "id": schema.id, "sha256": sha,
            "source": property_value(producer, "schema_file") if producer else None,
            "component": (producer.type if producer else None)}


def _trainer(store, model, manifest: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    recorded = manifest.get("hyperparameters") or {}
    if model is None:
        return recorded
    trainer = _producer(store, model.id)
    custom = json.loads(property_value(trainer, "custom_config") or "{}") if trainer else {}
    train_args = json.loads(property_value(trainer, "train_args") or "{}") if trainer else {}
    ran = {"model": custom.get("model"), "transform": custom.get("transform"),
           "train_steps": train_args.get("num_steps"),
           "code_fingerprint": custom.get("code_fingerprint"),
           "tuned": recorded.get("tuned"),  # from the Tuner: these replace model's values
           "trainer_execution": trainer.id if trainer else None}
    if recorded.get("model") and custom.get("model") and recorded["model"] != custom["model"]:
        problems.append("the manifest's hyperparameters differ from the Trainer's in ML Metadata")
    return ran


def _evaluation(store, inputs: dict[str, list], manifest: dict[str, Any], with_metrics: bool
                ) -> dict[str, Any]:
    evaluation = (inputs.get("model_evaluation") or [None])[0]
    baseline = (inputs.get("baseline_model") or [None])[0]
    blessing = (inputs.get("model_blessing") or [None])[0]
    out: dict[str, Any] = {
        "blessed": bool(property_value(blessing, "blessed")) if blessing else None,
        "baseline_version": manifest.get("baseline_version"),
        "baseline_model": {"uri": baseline.uri, "id": baseline.id} if baseline else None,
        "metrics": (manifest.get("metrics") or {}).get("overall"),
    }
    if with_metrics and evaluation is not None and baseline is not None:
        out["compared"] = compared_metrics(evaluation.uri)
    return out


def compared_metrics(evaluation_uri: str) -> dict[str, dict[str, float]]:
    """{metric: {"candidate", "baseline", "diff"}} overall, as the Evaluator measured them."""
    overall = next((row for row in read_metrics(evaluation_uri) if not row.slice), None)
    if overall is None:
        return {}
    return {name: {"candidate": overall.candidate.get(name), "baseline": baseline,
                   "diff": overall.diff.get(name)}
            for name, baseline in overall.baseline.items()}


def render(info: dict[str, Any]) -> list[str]:
    lines = [f"version {info['version']} of '{info['model_name']}': {info['path']}",
             f"  pushed {info.get('pushed_at')} by run {info.get('run_id')}"]
    back = info.get("rollback")
    if back:
        lines[1] = (f"  rollback at {back['at']} (run {back['run_id']}): serves version "
                    f"{back['of_version']} again, instead of version {back['from_version']}; "
                    f"reason: {back['reason']}")
        lines.append(f"  version {back['of_version']} was pushed {info.get('pushed_at_first')}"
                     f" by run {info.get('run_id')}; its lineage:")
    revision = info.get("code_revision") or {}
    hyper = info.get("hyperparameters") or {}
    lines.append(f"  code: git {revision.get('git_commit') or 'unknown'}"
                 + (" (uncommitted changes)" if revision.get("dirty") else "")
                 + (f", modules {hyper.get('code_fingerprint')}"
                    if hyper.get("code_fingerprint") else ""))
    spans = info.get("spans") or []
    rows = sum(f.get("rows", 0) for s in spans for f in s.get("files", []))
    paths = [f["path"] for s in spans for f in s.get("files", [])]
    base = os.path.commonpath([os.path.dirname(os.path.dirname(p)) for p in paths]) \
        if paths else ""
    lines.append(f"  data: {len(spans)} span(s), {rows} rows" + (f", under {base}" if base else ""))
    for span in spans:
        for entry in span.get("files", []):
            state = ("unchanged on disk" if entry.get("unchanged_on_disk")
                     else "CHANGED on disk" if entry.get("exists") else "no longer on disk")
            shown = os.path.relpath(entry["path"], base) if base else entry["path"]
            lines.append(f"    span {span['span']:<4} {shown}  {entry['rows']} rows  "
                         f"sha256 {entry['sha256'][:12]}  Examples #{span.get('examples_id')}  "
                         f"{state}")
    schema = info.get("schema") or {}
    now = schema.get("same_as_curated_now")
    lines.append(f"  schema: {schema.get('source') or schema.get('uri')}  "
                 f"sha256 {str(schema.get('sha256'))[:12]}"
                 + ("" if now is None else
                    f" ({'same as' if now else 'DIFFERS from'} {schema.get('curated')} now)"))
    lines += _hyperparameter_lines(hyper) + _evaluation_lines(info.get("evaluation") or {})
    for problem in info.get("problems") or []:
        lines.append(f"  warning: {problem}")
    return lines


def _hyperparameter_lines(hyper: dict[str, Any]) -> list[str]:
    lines = []
    model = hyper.get("model") or {}
    if model:
        lines.append("  hyperparameters: " + ", ".join(
            f"{k}={v}" for k, v in model.items() if k != "seed") + f", seed={model.get('seed')}"
            + (f"; trainer steps {hyper.get('train_steps')}" if hyper.get("train_steps") else ""))
    if hyper.get("tuned"):
        lines.append("  tuned (from the Tuner, replacing the values above): " + ", ".join(
            f"{k}={v}" for k, v in hyper["tuned"].items()))
    return lines


def _evaluation_lines(evaluation: dict[str, Any]) -> list[str]:
    metrics = evaluation.get("metrics") or {}
    shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
    lines = ["  metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(shown.items()))]
    if evaluation.get("baseline_version") is None and not evaluation.get("baseline_model"):
        lines.append("  baseline: none (the first blessed model: judged on absolute "
                     "thresholds only)")
    else:
        lines.append(f"  baseline: version {evaluation.get('baseline_version')} "
                     f"(model {(evaluation.get('baseline_model') or {}).get('uri')})")
        for name, values in sorted((evaluation.get("compared") or {}).items()):
            lines.append(f"    {name}: this version {_number(values.get('candidate'))}, "
                         f"baseline {_number(values.get('baseline'))} "
                         f"(diff {_number(values.get('diff'), '+.4f')})")
    return lines


def _number(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)
