"""tf.Examples in gzipped TFRecord files, read a batch of records at a time by TensorFlow's C++
reader (for Transform and StatisticsGen, and DataDrift's own reading).

TFX's Transform and StatisticsGen read examples through tfx-bsl's `TFExampleRecord`, whose Beam
source is Beam's TFRecord reader: Python per record (the framing, two CRC checks, the buffer),
then a Beam element per record up to the batching. `FastTFExampleRecord` is that TFXIO with
its sources replaced: the files Beam's file system matches, sorted by path (a local file system
lists a folder in an order of its own; sorted, a split's ExampleGen files are read in the order
of the input's rows), each read by `tf.data.TFRecordDataset` in lists of records;
`BeamSource` decodes each list into a RecordBatch with tfx-bsl's own decoder, so no Beam element
is made per record. The schema, projections, the raw-record source and the TensorFlow dataset
path are tfx-bsl's.

The batches are `_BATCH` records (or the size asked for) and the files' ends, where Beam sizes
TFX's batches from timings; tf.Transform's analyzers and TFDV's statistics sum over batches, so
means and variances may differ from a run of TFX's reader in the last bits, as two runs of TFX's
reader differ (the Transform and StatisticsGen executor tests; docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from tfx_bsl.tfxio import tf_example_record

_BATCH = 1000  # records per read from TensorFlow's reader
_BUFFER = 1 << 22  # bytes of read-ahead per file


class FastTFExampleRecord(tf_example_record.TFExampleRecord):
    """tfx-bsl's TFExampleRecord, its records read by TensorFlow's C++ reader."""

    @classmethod
    def of(cls, tfxio: tf_example_record.TFExampleRecord) -> FastTFExampleRecord:
        return cls(file_pattern=tfxio._file_pattern, schema=tfxio._schema,  # pylint: disable=protected-access
                   raw_record_column_name=tfxio.raw_record_column_name,
                   telemetry_descriptors=tfxio.telemetry_descriptors)

    def _RawRecordBeamSourceInternal(self) -> beam.PTransform:
        return ReadRecords(self._file_pattern)  # pylint: disable=no-value-for-parameter

    def BeamSource(self, batch_size: int | None = None) -> beam.PTransform:
        """RecordBatches of up to `batch_size` (default `_BATCH`) examples, each decoded from
        a batch of records as read: no Beam element per record."""
        decode = tf_example_record._DecodeBatchExamplesDoFn(  # pylint: disable=protected-access
            self._GetSchemaForDecoding(), self.raw_record_column_name)

        @beam.typehints.with_input_types(beam.Pipeline)
        def read(pipeline: beam.Pipeline) -> beam.PCollection:
            return (pipeline
                    | "MatchFiles" >> beam.Create(matched_files(self._file_pattern))
                    | "ReadBatches" >> beam.FlatMap(batches_of, batch_size or _BATCH)
                    | "Decode" >> beam.ParDo(decode))

        return beam.ptransform_fn(read)()

    def _ProjectImpl(self, tensor_names: list[str]) -> Any:
        return FastTFExampleRecord.of(super()._ProjectImpl(tensor_names))


def batched(tfxio: Any) -> Any:
    """`tfxio` read by `FastTFExampleRecord` where it is tfx-bsl's TFExampleRecord (that very
    class, not a subclass); any other TFXIO as it is."""
    if type(tfxio) is tf_example_record.TFExampleRecord:
        return FastTFExampleRecord.of(tfxio)
    return tfxio


def matched_files(patterns: list[str]) -> list[str]:
    """The files each pattern matches (Beam's file system), sorted by path, pattern after
    pattern: the same order on every file system (a local one lists a folder in its own order),
    which for ExampleGen's files is the order of the input's rows."""
    from apache_beam.io.filesystems import FileSystems

    return [path for result in FileSystems.match(list(patterns))
            for path in sorted(meta.path for meta in result.metadata_list)]


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def ReadRecords(pipeline: beam.Pipeline, patterns: list[str]) -> beam.PCollection:  # pylint: disable=invalid-name
    """The serialised records of the files `patterns` match, file after file, in order."""
    return (pipeline
            | "MatchFiles" >> beam.Create(matched_files(patterns))
            | "ReadFiles" >> beam.FlatMap(records_of).with_output_types(bytes))


def records_of(path: str) -> Iterator[bytes]:
    """A TFRecord file's records (gzipped if its name ends in .gz), in order."""
    for batch in batches_of(path, _BATCH):
        yield from batch


def batches_of(path: str, size: int) -> Iterator[list[bytes]]:
    """A TFRecord file's records in lists of `size` (the last one shorter), in order."""
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(
        path, compression_type="GZIP" if path.endswith(".gz") else "",
        buffer_size=_BUFFER).batch(size)
    for batch in dataset.as_numpy_iterator():
        yield batch.tolist()
