"""VariantEvaluator: judges optimized variants against the dense model per slice; latency."""

from components.variant_evaluator.component import (
    ModelVariants,
    VariantEvaluator,
    VariantEvaluatorSpec,
)

__all__ = ["ModelVariants", "VariantEvaluator", "VariantEvaluatorSpec"]
