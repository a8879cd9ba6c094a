"""The pipeline definition: TFX components wired from one validated Config.

CsvExampleGen -> StatisticsGen -> SchemaGen (or ImportSchemaGen with a curated schema)
-> ExampleValidator -> DataGate -> Transform -> Trainer -> Evaluator (baseline: the latest
blessed model other than the candidate) -> VersionedPusher. Data processing runs on Beam with
the options from the config.
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
from tfx.proto import example_gen_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.data_gate import DataGate
from components.versioned_pusher import VersionedPusher
from pipeline.baseline import LatestBlessedOtherModelStrategy
from pipeline.config import Config
from pipeline.data import InputData
from pipeline.eval_config import build_eval_config
from pipeline.optimization import optimization_components

MODULES_DIR = Path(__file__).parent / "modules"
PREPROCESSING_FN = "pipeline.modules.transform.preprocessing_fn"
RUN_FN = "pipeline.modules.trainer.run_fn"


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
    return args + list(beam.extra_args)


def hyperparameters(config: Config) -> dict[str, Any]:
    return {"model": config.module_config()["model"],
            "transform": config.module_config()["transform"]}


def create_pipeline(config: Config, data: InputData, code_revision: dict[str, Any]
                    ) -> Pipeline:
    module_config = config.module_config(code_fingerprint())

    example_gen = CsvExampleGen(
        input_base=data.input_base,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=data.pattern)]),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.split.train),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.split.eval),
            ])),
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    if config.schema.path:
        schema_gen = ImportSchemaGen(schema_file=config.schema.path)
    else:
        schema_gen = SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    data_gate = DataGate(anomalies=example_validator.outputs["anomalies"])

    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=module_config,
        # StatisticsGen already computed the raw statistics that the gates and reviews use;
        # Transform's own pre/post-transform TFDV passes would only repeat work on every run.
        disable_statistics=True,
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
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=build_eval_config(config),
    )

    # Optional stage (config [optimization]): pruned and quantized variants, judged per slice.
    optimization, variants = optimization_components(
        config, module_config, example_gen, schema_gen, transform, trainer)

    pusher = VersionedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        model_evaluation=evaluator.outputs["evaluation"],
        baseline_model=baseline_resolver.outputs["model"],
        schema=schema_gen.outputs["schema"],
        examples=example_gen.outputs["examples"],
        serving_dir=str(config.serving_dir),
        model_name=config.pipeline.model_name,
        data_files=json.dumps([f.as_dict() for f in data.files], sort_keys=True),
        hyperparameters=json.dumps(hyperparameters(config), sort_keys=True),
        code_revision=json.dumps(code_revision, sort_keys=True),
        variants=variants,
    )

    components = [example_gen, statistics_gen, schema_gen, example_validator, data_gate,
                  transform, trainer, baseline_resolver, evaluator, *optimization, pusher]
    os.makedirs(config.pipeline_root, exist_ok=True)
    return Pipeline(
        pipeline_name=config.pipeline.name,
        pipeline_root=str(config.pipeline_root),
        components=components,
        enable_cache=config.pipeline.enable_cache,
        metadata_connection_config=sqlite_metadata_connection_config(
            str(config.metadata_path)),
        beam_pipeline_args=beam_pipeline_args(config),
    )
