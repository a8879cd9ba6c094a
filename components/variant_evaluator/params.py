"""The VariantEvaluator's parameters: how variants are judged against the dense model."""

from __future__ import annotations

from dataclasses import dataclass

from components.variant_evaluator.judgement import MetricRule


@dataclass(frozen=True)
class VariantJudgement:
    """A variant is blessed when, on every metric of `rules`, its loss against the dense model
    stays within the rule's tolerance overall and on every slice of at least
    `min_slice_examples` examples (and, for AUC and PR-AUC, `min_class_examples` of each
    class). Slices are the overall slice plus one per value combination of each entry of
    `slices` (raw columns), as in TFMA."""

    task: str                                  # binary, multiclass or regression
    rules: tuple[MetricRule, ...]
    decision_threshold: float = 0.5            # binary: score > threshold is positive
    slices: tuple[tuple[str, ...], ...] = ()
    min_slice_examples: int = 100
    min_class_examples: int = 10
    latency_calls: int = 1000                  # batch-1 calls timed per model
