"""The pipeline's graph: which TFX components a run's pipelines hold and how they are wired.

- `pipelines.py`: `Pipelines`, every pipeline of one run (the whole one, its data part for one
  span, a backfill's ingestion of one span and its validation of many), built from one config;
- `example_gen.py`: CsvExampleGen for one span, and the one builder of its range config;
- `resolvers.py`: the resolver strategies (validated spans, the Evaluator's baseline) and the
  channels they read;
- `evaluation.py`: the TFMA EvalConfigs of the model and of the pruned variant;
- `optimization.py`: the optimization stage (ModelOptimizer, the pruned model's Evaluator,
  VariantEvaluator);
- `user_code.py`: the user modules (Transform, Trainer, the label) and the custom config and
  fingerprint they get;
- `keys.py`: what a span's validation depends on, and the schema snapshot ImportSchemaGen reads;
- `beam.py`: the Beam arguments of every Beam-based component;
- `nodes.py`: the node ids other packages look results up by (no TFX import).

May import `pipeline.inputs`, `pipeline.config`, the components and `pipeline.modules`' plain
helpers; never the orchestration, the records or the review.
"""
