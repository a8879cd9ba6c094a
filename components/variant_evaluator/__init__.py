"""VariantEvaluator: judges optimized variants against the dense model per slice; latency.

Imports `components.shared`.
"""

from components.variant_evaluator.component import VariantEvaluator, VariantEvaluatorSpec
from components.variant_evaluator.judgement import MetricRule
from components.variant_evaluator.params import VariantJudgement

__all__ = ["MetricRule", "VariantEvaluator", "VariantEvaluatorSpec", "VariantJudgement"]
