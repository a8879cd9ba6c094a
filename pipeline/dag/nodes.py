"""Node ids of the pipeline's components: how ML Metadata names a run's executions, and how
the run records and the review look them up. Plain names, no TFX import."""

EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
IMPORT_SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DATA_DRIFT = "DataDrift"
DATA_GATE = "DataGate"
SPAN_VALIDATION = "SpanValidation"
SPAN_WINDOW = "SpanWindow"
TRANSFORM = "Transform"
TRAINER = "Trainer"
TUNER = "Tuner"
EVALUATOR = "Evaluator"
BASELINE_SCORES = "BaselineScores"
NAIVE_BASELINES = "NaiveBaselines"
PUSHER = "VersionedPusher"
MODEL_OPTIMIZER = "ModelOptimizer"
PRUNED_EVALUATOR = "PrunedModelEvaluator"
VARIANT_EVALUATOR = "VariantEvaluator"
WINDOW_RESOLVER = "window_resolver"
PREVIOUS_SPAN_RESOLVER = "previous_span_resolver"
BACKFILL_SPANS_RESOLVER = "backfill_spans_resolver"
BASELINE_RESOLVER = "latest_blessed_model_resolver"

# The stages the stock TFX taxi example also has (the benchmark compares them), and the
# optimization stage it has not.
MODEL_STAGES = (TRANSFORM, TRAINER, EVALUATOR, PUSHER)
OPTIMIZATION_STAGES = (MODEL_OPTIMIZER, PRUNED_EVALUATOR, VARIANT_EVALUATOR)
