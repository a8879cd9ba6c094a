"""The ModelOptimizer's settings: which variants to make and how."""

from __future__ import annotations

from dataclasses import dataclass

VARIANTS = ("pruned", "tflite_dynamic", "tflite_int8")


@dataclass(frozen=True)
class OptimizationSettings:
    """Pruning fine-tunes the trained model for `finetune_steps` steps (batches of `batch_size`,
    Adam at `learning_rate`, the task's standard loss, balanced class weights when
    `class_weight` is "balanced") while a polynomial schedule raises the sparsity from 0 at
    `pruning_begin_step` to `target_sparsity` at `pruning_end_step`, every `pruning_frequency`
    steps. The int8 model is calibrated on `representative_samples` training examples."""

    variants: tuple[str, ...]
    task: str                          # binary, multiclass or regression
    target_sparsity: float = 0.8
    finetune_steps: int = 1000
    pruning_begin_step: int = 0
    pruning_end_step: int = 600
    pruning_frequency: int = 50
    learning_rate: float = 1e-3
    batch_size: int = 256
    seed: int = 42
    class_weight: str = "none"         # "balanced" or "none"
    representative_samples: int = 200

    def __post_init__(self) -> None:
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
