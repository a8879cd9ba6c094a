"""Small real artifacts for unit and executor tests: raw rows -> tf.Transform (Beam) -> the real
Trainer `run_fn`, laid out as the TFX components lay them out (`Split-<name>/*.gz`), so component
executors read them exactly as they would in a pipeline.

`tiny_pipeline` (session fixture, registered by the root conftest.py) is shared by the
optimization executor tests; tests/test_model.py builds its own with the same helpers.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# The raw columns of the tiny data (as tests/test_transform.SPEC): fare always present, miles and
# company sometimes missing, hour an integer category, tips the label's source.
BASE_CONFIG = {
    "label": {"column": "tips", "kind": "binary", "positive_values": None,
              "derive": {"type": "ratio_above", "denominator": "fare", "threshold": 0.2}},
    "features": {"numeric": ["fare", "miles"], "categorical": ["company", "hour"],
                 "bucketize": {"miles": 3}},
    "transform": {"impute": "mean", "vocab_size": 100, "oov_buckets": 2},
    "model": {"type": "wide_deep", "hidden_units": [8, 4], "dropout": 0.2, "l2": 1e-3,
              "embedding_dim": 3, "learning_rate": 0.01, "batch_size": 16, "train_steps": 4,
              "steps_per_epoch": 2, "eval_steps": 2, "early_stopping_patience": 3, "seed": 7,
              "class_weight": "balanced"},
    "code_fingerprint": "test",
}


def tiny_rows(n: int = 64, seed: int = 3, company_lift: float = 0.0) -> list[dict]:
    """Rows whose label depends on `hour` (and on company with `company_lift`)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        fare = float(rng.uniform(2, 40))
        lift = company_lift if i % 3 == 1 else 0.0
        big = rng.random() < 0.25 + 0.5 * (i % 2) + lift
        rows.append({
            "fare": fare,
            "miles": [] if i % 7 == 0 else [float(rng.uniform(0, 10))],
            "company": [] if i % 5 == 0 else [[b"a", b"b", b"c"][i % 3]],
            "hour": [int(i % 2)],
            "tips": [fare * (0.3 if big else 0.1)],
        })
    return rows


def write_examples(rows: list[dict], path: str, compressed: bool = False) -> None:
    """Transformed rows (NumPy values, as tf.Transform returns them) as tf.Examples."""
    options = "GZIP" if compressed else None
    with tf.io.TFRecordWriter(path, options=options) as writer:
        for row in rows:
            feature = {}
            for key, value in row.items():
                if value.dtype.kind == "f":
                    feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
                else:
                    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())


def raw_example(row: dict, drop: tuple[str, ...] = ()) -> bytes:
    """A serialized raw tf.Example of a tiny row; empty lists are missing features."""
    feature = {}
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        if key in drop or not values:
            continue
        if isinstance(values[0], bytes):
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif isinstance(values[0], float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@dataclass
class TinyPipeline:
    """Artifact folders as the components write them, and the rows they came from."""

    root: str
    config: dict[str, Any]
    rows: list[dict]
    eval_rows: list[dict]
    train: list[dict] = field(default_factory=list)   # transformed training rows

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def transform_graph(self) -> str:
        return self.path("transform_fn")

    @property
    def model(self) -> str:                 # Trainer's model artifact
        return self.path("model")

    @property
    def transformed_examples(self) -> str:  # Transform's transformed_examples artifact
        return self.path("transformed_examples")

    @property
    def examples(self) -> str:              # ExampleGen's examples artifact (raw)
        return self.path("examples")

    @property
    def schema(self) -> str:                # (Import)SchemaGen's schema artifact
        return self.path("schema")


def build(root: str, config: dict[str, Any], rows: list[dict], eval_rows: list[dict],
          train_steps: int | None = None) -> TinyPipeline:
    """Transform in Beam, transformed and raw examples in TFX layout, then the real run_fn."""
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
    from tfx.utils import io_utils
    from tfx_bsl.public import tfxio

    from pipeline.modules.trainer import run_fn
    from tests.test_transform import SPEC, _run

    tiny = TinyPipeline(root=root, config=config, rows=rows, eval_rows=eval_rows)
    train, evaluated, _ = _run(config, SPEC, rows, root, eval_rows=eval_rows)
    tiny.train = train
    files = {}
    for split, transformed, raw in [("train", train, rows), ("eval", evaluated, eval_rows)]:
        os.makedirs(tiny.path("transformed_examples", f"Split-{split}"))
        os.makedirs(tiny.path("examples", f"Split-{split}"))
        files[split] = tiny.path("transformed_examples", f"Split-{split}", "data.gz")
        write_examples(transformed, files[split], compressed=True)
        with tf.io.TFRecordWriter(tiny.path("examples", f"Split-{split}", "data.gz"),
                                  options="GZIP") as writer:
            for row in raw:
                writer.write(raw_example(row))
    io_utils.write_pbtxt_file(os.path.join(tiny.schema, "schema.pbtxt"),
                              schema_utils.schema_from_feature_spec(SPEC))

    def factory(file_pattern, options, schema):
        return tfxio.TFExampleRecord(file_pattern=file_pattern,
                                     schema=schema).TensorFlowDataset(options)

    fn_args = FnArgs(
        train_files=[files["train"]], eval_files=[files["eval"]],
        train_steps=train_steps or int(config["model"]["train_steps"]), eval_steps=2,
        transform_output=tiny.transform_graph,
        serving_model_dir=os.path.join(tiny.model, "Format-Serving"),
        data_accessor=DataAccessor(factory, None, None), custom_config=config)
    run_fn(fn_args)
    return tiny


# A model that learned something (so that a variant can be worse than it), on enough rows for
# slices of a few dozen examples.
OPTIMIZATION_CONFIG = copy.deepcopy(BASE_CONFIG)
OPTIMIZATION_CONFIG["model"].update(train_steps=80, steps_per_epoch=40, batch_size=32,
                                    class_weight="none", dropout=0.0)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> TinyPipeline:
    rows = tiny_rows(480, seed=11, company_lift=0.15)
    return build(str(tmp_path_factory.mktemp("tiny_pipeline")), OPTIMIZATION_CONFIG,
                 rows[:360], rows[360:])


OPTIMIZATION = {"variants": ["pruned", "tflite_int8"], "target_sparsity": 0.8,
                "finetune_steps": 60, "pruning_begin_step": 0, "pruning_end_step": 40,
                "pruning_frequency": 10, "finetune_learning_rate": 0.0,
                "representative_samples": 50}


@dataclass
class TinyOptimized:
    pipeline: TinyPipeline
    pruned_model: str        # ModelOptimizer's pruned_model artifact
    optimized_models: str    # ModelOptimizer's optimized_models artifact


def artifact(kind: type, uri: str, artifact_id: int | None = None) -> Any:
    instance = kind()
    instance.uri = uri
    if artifact_id is not None:
        instance.id = artifact_id
    return instance


@pytest.fixture(scope="session")
def tiny_optimized(tiny_pipeline: TinyPipeline) -> TinyOptimized:
    """The real ModelOptimizer executor on the tiny pipeline's artifacts."""
    import json

    from tfx.types import standard_artifacts

    from components.model_optimizer.component import OptimizedModels
    from components.model_optimizer.executor import Executor

    tiny = tiny_pipeline
    outputs = {"pruned_model": [artifact(standard_artifacts.Model, tiny.path("pruned_model"))],
               "optimized_models": [artifact(OptimizedModels, tiny.path("optimized_models"))]}
    inputs = {
        "model": [artifact(standard_artifacts.Model, tiny.model)],
        "transformed_examples": [artifact(standard_artifacts.Examples,
                                          tiny.transformed_examples)],
        "transform_graph": [artifact(standard_artifacts.TransformGraph, tiny.transform_graph)],
        "schema": [artifact(standard_artifacts.Schema, tiny.schema)],
    }
    Executor().Do(inputs, outputs, {"module_config": json.dumps(tiny.config),
                                    "optimization": json.dumps(OPTIMIZATION)})
    return TinyOptimized(tiny, tiny.path("pruned_model"), tiny.path("optimized_models"))


SLICES = [["company"], ["hour"], ["company", "hour"]]


def run_variant_evaluator(optimized: TinyOptimized, out: str, tolerance: float,
                          variants: tuple[str, ...] = ("tflite_int8",),
                          min_slice_examples: int = 20, latency_calls: int = 20) -> str:
    """The real VariantEvaluator executor on TFLite variants of the tiny model; returns the uri
    of its `variants` artifact. The optimizer's output is narrowed to `variants` (as if they
    were the configured ones), so no TFMA evaluation of the pruned model is needed."""
    import json
    import shutil

    from tfx.types import standard_artifacts

    from components.model_optimizer.component import OptimizedModels
    from components.model_optimizer.executor import RESULT_FILE, read_result
    from components.variant_evaluator.component import ModelVariants
    from components.variant_evaluator.executor import Executor

    tiny = optimized.pipeline
    narrowed = os.path.join(out, "optimized_models")
    shutil.copytree(optimized.optimized_models, narrowed)
    made = read_result(optimized.optimized_models)
    made["variants"] = [v for v in made["variants"] if v["name"] in variants]
    with open(os.path.join(narrowed, RESULT_FILE), "w") as handle:
        json.dump(made, handle)
    result = artifact(ModelVariants, os.path.join(out, "variants"), 31)
    os.makedirs(result.uri)
    inputs = {
        "examples": [artifact(standard_artifacts.Examples, tiny.examples)],
        "model": [artifact(standard_artifacts.Model, tiny.model)],
        "transform_graph": [artifact(standard_artifacts.TransformGraph, tiny.transform_graph)],
        "optimized_models": [artifact(OptimizedModels, narrowed)],
    }
    rules = {"auc": {"tolerance": tolerance, "higher_is_better": True, "tfma_key": "auc"}}
    Executor().Do(inputs, {"variants": [result]}, {
        "module_config": json.dumps(tiny.config), "rules": json.dumps(rules),
        "decision_threshold": 0.5, "slices": json.dumps(SLICES),
        "min_slice_examples": min_slice_examples, "min_class_examples": 3,
        "latency_calls": latency_calls})
    return result.uri
