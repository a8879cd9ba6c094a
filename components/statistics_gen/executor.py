"""TFX's StatisticsGen executor, reading tf.Examples with
`components/shared/tfrecord_reading.FastTFExampleRecord`; everything else (the options, the
schema, the splits, TFDV's statistics, the outputs) is TFX's.

TFX's `Executor.Do` gets each split's TFXIO from the `tfxio_utils` module it names directly;
this executor runs TFX's `Do` with that name bound, for the call, to a stand-in whose
`get_split_tfxio` returns the batched reader for tfx-bsl's TFExampleRecord
(components/shared/bound.py).
"""

from __future__ import annotations

import types
from typing import Any

from tfx.components.statistics_gen import executor as tfx_executor
from tfx.components.util import tfxio_utils

from components.shared.bound import bound
from components.shared.tfrecord_reading import batched


def get_split_tfxio(**kwargs: Any) -> Any:
    """TFX's TFXIO for a split; tfx-bsl's TFExampleRecord (that very class) read in batches."""
    return batched(tfxio_utils.get_split_tfxio(**kwargs))


class Executor(tfx_executor.Executor):
    def Do(self, input_dict: dict[str, list[Any]], output_dict: dict[str, list[Any]],
           exec_properties: dict[str, Any]) -> None:
        stand_in = types.SimpleNamespace(get_split_tfxio=get_split_tfxio)
        with bound(tfx_executor, "tfxio_utils", stand_in):
            super().Do(input_dict, output_dict, exec_properties)
