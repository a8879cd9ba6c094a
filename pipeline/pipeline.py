"""The pipeline definition: TFX components wired from one validated Config.

CsvExampleGen (one span) -> StatisticsGen -> SchemaGen (or ImportSchemaGen with a curated
schema) -> ExampleValidator -> DataDrift (vs the previous validated span; train vs eval of the
window) -> DataGate -> Transform -> Trainer -> Evaluator (baseline: the latest blessed model
other than the candidate) -> VersionedPusher. Transform, Trainer and Evaluator read the window
of validated spans resolved from ML Metadata (pipeline/span_resolver.py). Data processing runs
on Beam with the options from the config.

Spans of the window that were never validated are backfilled before a run (pipeline/
backfill.py): `ingest_pipeline` (ExampleGen alone) per span, then `validation_pipeline`
(SpanValidation: the gates of all those spans in one Beam job). `ingest_only` builds the data
part alone (through DataGate) for one span: the backfill of a span the batch did not pass, and
of every span when there is no curated schema. Nodes have the same ids and settings as in the
full pipeline, so their executions are shared through the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Components and DSL from their own modules: `tfx.v1` would also import the Google Cloud
# extensions (AI Platform, BigQuery), about 7 s of every run for nothing a local pipeline uses.
from tfx.components import (
    CsvExampleGen,
    Evaluator,
    ExampleValidator,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.orchestration.metadata import sqlite_metadata_connection_config
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, range_config_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.data_drift import DataDrift
from components.data_gate import DataGate
from components.data_gate.component import DataValidationResult
from components.span_validation import SpanValidation
from components.span_window import SpanWindow
from components.versioned_pusher import VersionedPusher
from pipeline.baseline import LatestBlessedOtherModelStrategy
from pipeline.config import Config
from pipeline.data import InputData
from pipeline.eval_config import build_eval_config
from pipeline.optimization import optimization_components
from pipeline.span_resolver import ExamplesByIdStrategy, ValidatedSpansStrategy
from pipeline.spans import has_span_spec

MODULES_DIR = Path(__file__).parent / "modules"
PREPROCESSING_FN = "pipeline.modules.transform.preprocessing_fn"
RUN_FN = "pipeline.modules.trainer.run_fn"
EXAMPLE_GEN_ID = "CsvExampleGen"
DEPENDENCY_FLAGS = ("--extra_package", "--setup_file", "--requirements_file",
                    "--worker_harness_container_image", "--sdk_container_image")
DIRECT_SDK_IMAGE = "apache/beam_python3.10_sdk:2.59.0"
DATA_GATE_ID = "DataGate"
SPAN_VALIDATION_ID = "SpanValidation"


def code_fingerprint() -> str:
    """Hash of the user modules: part of Transform's and Trainer's cache key.

    The modules are referenced by import path, which TFX does not fingerprint, so without this a
    code change would be served from cache.
    """
    digest = hashlib.sha256()
    for path in sorted(MODULES_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def beam_pipeline_args(config: Config) -> list[str]:
    beam = config.beam
    if beam.runner == "PortableRunner":
        args = ["--runner=PortableRunner", f"--job_endpoint={beam.job_endpoint}"]
    else:
        args = [f"--direct_running_mode={beam.direct_running_mode}",
                f"--direct_num_workers={beam.direct_num_workers}"]
        if not any(a.startswith(DEPENDENCY_FLAGS) for a in beam.extra_args):
            # TFX re-packages its own install as an sdist for Beam's workers on every Beam
            # component execution unless a dependency flag is set (tfx/utils/
            # dependency_utils.py): seconds each, and useless to the DirectRunner, whose
            # workers run in this Python environment. Naming the SDK image, which the
            # DirectRunner does not use, skips it; it matters with a span per execution.
            args.append(f"--sdk_container_image={DIRECT_SDK_IMAGE}")
    return args + list(beam.extra_args)


def hyperparameters(config: Config) -> dict[str, Any]:
    return {"model": config.module_config()["model"],
            "transform": config.module_config()["transform"]}


def schema_snapshot(config: Config) -> str:
    """A copy of the curated schema at a path named by its content, for ImportSchemaGen.

    ImportSchemaGen's cache key holds the schema file's path, not its content: pointed at the
    curated file, an edited schema would be served from cache and never take effect. A path per
    content makes an edit a new input, and keeps every version that was used.
    """
    content = Path(config.schema.path).read_bytes()
    folder = (config.output_root / config.pipeline.name / "schemas"
              / hashlib.sha256(content).hexdigest()[:16])
    path = folder / "schema.pbtxt"
    if not path.is_file() or path.read_bytes() != content:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return str(path)


def validation_key(config: Config) -> str:
    """What a span's validation depends on besides its data: the schema, the label, the
    thresholds and the split. A span validated under another key is validated again."""
    digest = hashlib.sha256()
    if config.schema.path:
        digest.update(Path(config.schema.path).read_bytes())
    digest.update(json.dumps({
        "label": config.module_config()["label"],
        "validation": {"label_drift": config.validation.label_drift,
                       "new_columns": config.validation.new_columns},
        "split": [config.split.train, config.split.eval],
    }, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def example_gen_for(config: Config, data: InputData, span: int) -> CsvExampleGen:
    """CsvExampleGen for exactly one span (a static range), hash-split into train and eval."""
    range_config = None
    if has_span_spec(data.pattern):
        range_config = range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
            start_span_number=span, end_span_number=span))
    return CsvExampleGen(
        input_base=data.input_base,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=data.pattern)]),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.split.train),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.split.eval),
            ])),
        range_config=range_config,
    ).with_id(EXAMPLE_GEN_ID)


def _example_gen_outputs() -> Channel:
    """Every Examples artifact ExampleGen produced, in any run of this pipeline."""
    return Channel(type=standard_artifacts.Examples, producer_component_id=EXAMPLE_GEN_ID,
                   output_key="examples")


def _spans_resolver(node_id: str, first: int, last: int, count: int,
                    after: Any = None) -> Resolver:
    """Validated Examples of spans [first, last] from every run; with `after` (this run's
    ExampleGen), it runs after it and takes this run's span `last` as validated.

    Verdicts come from DataGate (a span's own run) and from SpanValidation (a backfill of many
    spans): every DataValidationResult of the pipeline.
    """
    resolver = Resolver(
        strategy_class=ValidatedSpansStrategy,
        config={"first": first, "last": last, "count": count, "trust_last": after is not None},
        examples=_example_gen_outputs(),
        validated=Channel(type=DataValidationResult),
    ).with_id(node_id)
    if after is not None:
        resolver.add_upstream_node(after)
    return resolver


def _schema_gen(config: Config, statistics: Any = None) -> Any:
    if config.schema.path:
        return ImportSchemaGen(schema_file=schema_snapshot(config))
    return SchemaGen(statistics=statistics, infer_feature_shape=True)


def ingest_pipeline(config: Config, data: InputData, span: int) -> Pipeline:
    """ExampleGen alone, for one span: the first half of a batch backfill."""
    return _pipeline(config, [example_gen_for(config, data, span)])


def validation_pipeline(config: Config, examples_ids: list[int], first: int) -> Pipeline:
    """SpanValidation of the spans ExampleGen wrote as `examples_ids` (first span `first`),
    against the curated schema and, for drift, the newest validated span before `first`."""
    schema_gen = _schema_gen(config)
    examples = Resolver(
        strategy_class=ExamplesByIdStrategy, config={"ids": sorted(examples_ids)},
        examples=_example_gen_outputs(),
    ).with_id("backfill_spans_resolver")
    previous_resolver = _spans_resolver("previous_span_resolver", 0, first - 1, 1)
    span_validation = SpanValidation(
        examples=examples.outputs["examples"],
        baseline_examples=previous_resolver.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        label=json.dumps(config.module_config()["label"], sort_keys=True),
        label_drift_threshold=config.validation.label_drift,
        report_only=_report_only(config),
        validation_key=validation_key(config),
    ).with_id(SPAN_VALIDATION_ID)
    return _pipeline(config, [schema_gen, examples, previous_resolver, span_validation])


def _report_only(config: Config) -> list[str]:
    return ["SCHEMA_NEW_COLUMN"] if config.validation.new_columns == "report" else []


def create_pipeline(config: Config, data: InputData, code_revision: dict[str, Any],
                    span: int | None = None, ingest_only: bool = False) -> Pipeline:
    """The pipeline for `span` (default: the run's target span).

    With `ingest_only`, only the data part: ExampleGen through DataGate.
    """
    module_config = config.module_config(code_fingerprint())
    span = data.target if span is None else span

    example_gen = example_gen_for(config, data, span)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = _schema_gen(config, statistics_gen.outputs["statistics"])
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    previous_resolver = _spans_resolver("previous_span_resolver", 0, span - 1, 1)
    window_nodes: list[Any] = []
    if not ingest_only:
        window = config.spans.window
        window_resolver = _spans_resolver("window_resolver", span - window + 1, span, window,
                                          after=example_gen)
        span_window = SpanWindow(examples=window_resolver.outputs["examples"])
        window_nodes = [window_resolver, span_window]
    data_drift = DataDrift(
        examples=example_gen.outputs["examples"],
        baseline_examples=previous_resolver.outputs["examples"],
        window_examples=span_window.outputs["window"] if window_nodes else None,
        schema=schema_gen.outputs["schema"],
        label=json.dumps(module_config["label"], sort_keys=True),
        label_drift_threshold=config.validation.label_drift,
        skew_min_examples=config.validation.skew_min_examples,
    )
    data_gate = DataGate(
        anomalies=example_validator.outputs["anomalies"],
        drift=data_drift.outputs["report"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        examples=example_gen.outputs["examples"],
        report_only=_report_only(config),
        validation_key=validation_key(config),
    ).with_id(DATA_GATE_ID)
    data_components = [example_gen, statistics_gen, schema_gen, example_validator,
                       previous_resolver, *window_nodes, data_drift, data_gate]
    if ingest_only:
        return _pipeline(config, data_components)
    window_examples = span_window.outputs["window"]

    transform = Transform(
        examples=window_examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=module_config,
        # StatisticsGen already computed the raw statistics that the gates and reviews use;
        # Transform's own pre/post-transform TFDV passes would only repeat work on every run.
        disable_statistics=True,
        # Measured on the default window (5,469 trips): 22 s -> 12 s, same outputs to float
        # rounding. TF1 graph mode traces the preprocessing_fn once instead of once per phase.
        # The analyzer cache is keyed by input artifact, and every run's window is a new one,
        # so it never hit: writing it only added Beam stages.
        force_tf_compat_v1=True,
        disable_analyzer_cache=True,
    )
    transform.add_upstream_node(data_gate)

    trainer = Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(num_steps=config.model.train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=config.model.eval_steps),
        custom_config=module_config,
    )

    baseline_resolver = Resolver(
        strategy_class=LatestBlessedOtherModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        candidate=trainer.outputs["model"],
    ).with_id("latest_blessed_model_resolver")

    evaluator = Evaluator(
        examples=window_examples,
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=build_eval_config(config),
    )

    # Optional stage (config [optimization]): pruned and quantized variants, judged per slice.
    optimization, variants = optimization_components(
        config, module_config, window_examples, schema_gen, transform, trainer)

    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        model_evaluation=evaluator.outputs["evaluation"],
        baseline_model=baseline_resolver.outputs["model"],
        schema=schema_gen.outputs["schema"],
        examples=window_examples,
        serving_dir=str(config.serving_dir),
        model_name=config.pipeline.model_name,
        data_files=json.dumps([f.as_dict() for f in data.files], sort_keys=True),
        spans=json.dumps([s.as_dict() for s in data.spans], sort_keys=True),
        hyperparameters=json.dumps(hyperparameters(config), sort_keys=True),
        code_revision=json.dumps(code_revision, sort_keys=True),
        variants=variants,
    )

    components = [*data_components, transform, trainer, baseline_resolver, evaluator,
                  *optimization, pusher]
    return _pipeline(config, components)


def _pipeline(config: Config, components: list[Any]) -> Pipeline:
    os.makedirs(config.pipeline_root, exist_ok=True)
    return Pipeline(
        pipeline_name=config.pipeline.name,
        pipeline_root=str(config.pipeline_root),
        components=components,
        enable_cache=config.pipeline.enable_cache,
        metadata_connection_config=sqlite_metadata_connection_config(str(config.metadata_path)),
        beam_pipeline_args=beam_pipeline_args(config),
    )
