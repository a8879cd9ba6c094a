"""Every TFX pipeline one run builds, from its config, its input data and the code revision.

The whole pipeline (`full`):

    CsvExampleGen (the target span) -> StatisticsGen -> ImportSchemaGen (curated schema; SchemaGen
    without one) -> ExampleValidator -> DataDrift (vs the previous validated span; train vs eval
    of the window) -> DataGate -> Transform -> [Tuner] -> Trainer -> Evaluator (baseline: the
    latest blessed model other than the candidate), and beside it BaselineScores (the naive
    baselines' metrics) -> NaiveBaselines (the lift gate; the blessing: the Evaluator's and the
    gate's) -> [optimization stage] -> VersionedPusher

Transform, Trainer and Evaluator read the window of validated spans (`window_resolver` ->
SpanWindow). The backfill builds the others: `ingest` (ExampleGen alone, one span),
`validate_spans` (SpanValidation: the gates of many spans in one Beam job) and `data_part`
(ExampleGen through DataGate for one span, when the batch did not pass it or there is no
curated schema). The Tuner is there only with [tuning] enabled. Nodes have the same ids and
settings in every pipeline, so their executions are shared through the cache.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Components and DSL from their own modules: `tfx.v1` would also import the Google Cloud
# extensions (AI Platform, BigQuery), seconds of every run for nothing a local pipeline uses.
from tfx.components import (
    Evaluator,
    ExampleValidator,
    SchemaGen,
    Trainer,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration.metadata import sqlite_metadata_connection_config
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import trainer_pb2

from components.data_drift import DataDrift, MinimumExamples
from components.data_gate import DataGate, GateRules
from components.naive_baselines import BaselineScores, NaiveBaselines
from components.span_validation import SpanValidation
from components.span_window import SpanWindow
from components.statistics_gen import StatisticsGen
from components.transform import Transform
from components.versioned_pusher import (
    Provenance,
    PushDestination,
    PushEvidence,
    VersionedPusher,
)
from pipeline.config import Config
from pipeline.dag import nodes, user_code
from pipeline.dag.beam import beam_pipeline_args
from pipeline.dag.evaluation import baseline_settings, model_eval_config, score_settings
from pipeline.dag.example_gen import example_gen
from pipeline.dag.keys import schema_snapshot, validation_key
from pipeline.dag.optimization import TrainedModel, optimization_components
from pipeline.dag.resolvers import baseline_resolver, examples_by_id, spans_resolver
from pipeline.dag.tuning import tuner_node
from pipeline.inputs.prepare import InputData


@dataclasses.dataclass(frozen=True)
class DataNodes:
    """The data part of a pipeline for one span: ingestion through the gate."""

    example_gen: Any
    statistics_gen: Any
    schema_gen: Any
    example_validator: Any
    previous_resolver: Any
    data_drift: Any
    data_gate: Any
    window: tuple[Any, ...] = ()  # window_resolver and SpanWindow, in a full pipeline

    @property
    def components(self) -> list[Any]:
        return [self.example_gen, self.statistics_gen, self.schema_gen, self.example_validator,
                self.previous_resolver, *self.window, self.data_drift, self.data_gate]


class Pipelines:
    """Builds the pipelines of one run; each call returns a new TFX Pipeline."""

    def __init__(self, config: Config, data: InputData, code_revision: dict[str, Any]):
        self.config = config
        self.data = data
        self.code_revision = code_revision
        self.validation_key = validation_key(config, data.delimiter)
        self.gate_rules = GateRules(report_only=config.report_only_anomalies,
                                    validation_key=self.validation_key)
        self.minimum = MinimumExamples(drift=config.validation.min_examples,
                                       skew=config.validation.skew_min_examples)

    def ingest(self, span: int) -> Pipeline:
        """ExampleGen alone, for one span: the first half of a batch backfill."""
        return self._pipeline([self._example_gen(span)])

    def validate_spans(self, examples_ids: list[int], first: int) -> Pipeline:
        """SpanValidation of the spans ExampleGen wrote as `examples_ids` (first span `first`),
        against the curated schema and, for drift, the newest validated span before `first`."""
        schema_gen = self._schema_gen()
        examples = examples_by_id(nodes.BACKFILL_SPANS_RESOLVER, examples_ids)
        previous = spans_resolver(nodes.PREVIOUS_SPAN_RESOLVER, 0, first - 1, 1)
        validation = SpanValidation(
            examples=examples.outputs["examples"], schema=schema_gen.outputs["schema"],
            label=user_code.label_spec(self.config), rules=self.gate_rules,
            baseline_examples=previous.outputs["examples"], minimum=self.minimum,
        ).with_id(nodes.SPAN_VALIDATION)
        return self._pipeline([schema_gen, examples, previous, validation])

    def data_part(self, span: int) -> Pipeline:
        """ExampleGen through DataGate for one span (no window, nothing trained)."""
        return self._pipeline(self._data_nodes(span, with_window=False).components)

    def full(self) -> Pipeline:
        """The run's own pipeline, for its target span."""
        data = self._data_nodes(self.data.target, with_window=True)
        return self._pipeline(data.components + self._model_nodes(data))

    # -----------------------------------------------------------------------------------------

    def _pipeline(self, components: list[Any]) -> Pipeline:
        config = self.config
        config.pipeline_root.mkdir(parents=True, exist_ok=True)
        return Pipeline(
            pipeline_name=config.pipeline.name,
            pipeline_root=str(config.pipeline_root),
            components=components,
            enable_cache=config.pipeline.enable_cache,
            metadata_connection_config=sqlite_metadata_connection_config(
                str(config.metadata_path)),
            beam_pipeline_args=beam_pipeline_args(config),
        )

    def _example_gen(self, span: int) -> Any:
        return example_gen(self.config, self.data, span)

    def _schema_gen(self, statistics: Any = None) -> Any:
        if self.config.schema.path:
            return ImportSchemaGen(schema_file=schema_snapshot(self.config))
        return SchemaGen(statistics=statistics, infer_feature_shape=True)

    def _data_nodes(self, span: int, with_window: bool) -> DataNodes:
        example_gen_node = self._example_gen(span)
        examples = example_gen_node.outputs["examples"]
        statistics_gen = StatisticsGen(examples=examples)
        statistics = statistics_gen.outputs["statistics"]
        schema_gen = self._schema_gen(statistics)
        schema = schema_gen.outputs["schema"]
        validator = ExampleValidator(statistics=statistics, schema=schema)
        previous = spans_resolver(nodes.PREVIOUS_SPAN_RESOLVER, 0, span - 1, 1)
        window: tuple[Any, ...] = ()
        if with_window:
            size = self.config.spans.window
            resolver = spans_resolver(nodes.WINDOW_RESOLVER, span - size + 1, span, size,
                                      after=example_gen_node)
            window = (resolver, SpanWindow(examples=resolver.outputs["examples"]))
        drift = DataDrift(
            examples=examples, schema=schema, label=user_code.label_spec(self.config),
            minimum=self.minimum,
            baseline_examples=previous.outputs["examples"],
            window_examples=window[1].outputs["window"] if window else None)
        gate = DataGate(
            anomalies=validator.outputs["anomalies"], rules=self.gate_rules,
            drift=drift.outputs["report"], statistics=statistics, schema=schema,
            examples=examples).with_id(nodes.DATA_GATE)
        return DataNodes(example_gen_node, statistics_gen, schema_gen, validator, previous,
                         drift, gate, window)

    def _model_nodes(self, data: DataNodes) -> list[Any]:
        config = self.config
        module_config = user_code.custom_config(config, user_code.modules_fingerprint())
        window_examples = data.window[1].outputs["window"]
        schema = data.schema_gen.outputs["schema"]
        transform = self._transform(data, module_config)
        tuner = None
        if config.tuning.enabled:
            tuner = tuner_node(
                user_code.tuner_config(config, module_config), config.tuning.train_steps,
                config.model.eval_steps, transform.outputs["transformed_examples"],
                transform.outputs["transform_graph"], schema)
        trainer = Trainer(
            run_fn=user_code.RUN_FN, examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"], schema=schema,
            train_args=trainer_pb2.TrainArgs(num_steps=config.model.train_steps),
            eval_args=trainer_pb2.EvalArgs(num_steps=config.model.eval_steps),
            hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
            custom_config=module_config)
        baseline = baseline_resolver(trainer.outputs["model"])
        evaluator = Evaluator(
            examples=window_examples, model=trainer.outputs["model"],
            baseline_model=baseline.outputs["model"],
            eval_config=model_eval_config(config, self.data.label))
        # The naive baselines' scores need the model, not its evaluation: beside the Evaluator.
        scores = BaselineScores(
            examples=window_examples, model=trainer.outputs["model"],
            settings=score_settings(config, self.data.label)).with_id(nodes.BASELINE_SCORES)
        # The blessing that counts: the Evaluator's and the lift over the naive baselines.
        naive = NaiveBaselines(
            scores=scores.outputs["scores"], model_evaluation=evaluator.outputs["evaluation"],
            model_blessing=evaluator.outputs["blessing"],
            settings=baseline_settings(config)).with_id(nodes.NAIVE_BASELINES)
        optimization, variants = optimization_components(config, module_config, TrainedModel(
            model=trainer.outputs["model"],
            transformed_examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"], schema=schema,
            raw_examples=window_examples))
        pusher = VersionedPusher(
            model=trainer.outputs["model"], model_blessing=naive.outputs["blessing"],
            destination=PushDestination(str(config.serving_dir), config.pipeline.model_name),
            evidence=PushEvidence(
                model_evaluation=evaluator.outputs["evaluation"],
                baseline_model=baseline.outputs["model"], schema=schema,
                examples=window_examples),
            provenance=self._provenance(), variants=variants)
        tuning = [tuner] if tuner else []
        return [transform, *tuning, trainer, baseline, evaluator, scores, naive, *optimization,
                pusher]

    @staticmethod
    def _transform(data: DataNodes, module_config: dict) -> Transform:
        transform = Transform(
            examples=data.window[1].outputs["window"], schema=data.schema_gen.outputs["schema"],
            preprocessing_fn=user_code.PREPROCESSING_FN, custom_config=module_config,
            # StatisticsGen already computed the raw statistics the gates and reviews use;
            # Transform's own pre/post-transform TFDV passes would only repeat that work.
            disable_statistics=True,
            # TF1 graph mode traces the preprocessing_fn once instead of once per phase. The
            # analyzer cache is keyed by input artifact, and every run's window is a new one,
            # so it never hits. Both measured in docs/performance.md ("Transform").
            force_tf_compat_v1=True, disable_analyzer_cache=True)
        transform.add_upstream_node(data.data_gate)
        return transform

    def _provenance(self) -> Provenance:
        return Provenance(
            data_files=tuple(f.as_dict() for f in self.data.files),
            spans=tuple(s.as_dict() for s in self.data.spans),
            hyperparameters=user_code.hyperparameters(self.config),
            code_revision=self.code_revision)
