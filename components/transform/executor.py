"""TFX's Transform executor, reading tf.Examples with `FastTFExampleRecord`
(components/shared/tfrecord_reading.py); everything else (analysis, transformation, the cache,
materialisation, outputs) is TFX's.

TFX's `Executor.Do` hands the work to a `TransformProcessor` it names directly; this executor
runs TFX's `Do` with that name bound to the subclass below for the call
(components/shared/bound.py).
"""

from __future__ import annotations

from typing import Any

from tfx.components.transform import executor as tfx_executor

from components.shared.bound import bound
from components.shared.tfrecord_reading import batched


class TransformProcessor(tfx_executor.TransformProcessor):
    def _CreateTFXIO(self, dataset: Any, schema: Any) -> Any:
        return batched(super()._CreateTFXIO(dataset, schema))


class Executor(tfx_executor.Executor):
    def Do(self, input_dict: dict[str, list[Any]], output_dict: dict[str, list[Any]],
           exec_properties: dict[str, Any]) -> None:
        with bound(tfx_executor, "TransformProcessor", TransformProcessor):
            super().Do(input_dict, output_dict, exec_properties)
