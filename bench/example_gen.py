"""`python -m bench.example_gen`: the project's CsvExampleGen executor against TFX's own.

Both executors ingest the same CSV (the taxi sample inside the installed tfx package, repeated
`--copies` times) into train and eval splits, alternately, `--repeat` times each in one session
(in_memory Beam, this process). Prints the median wall time of each, their ratio, and whether
the two wrote the same examples into the same splits. Results also go to
outputs/bench/example_gen.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from components.shared.files import write_atomically
from pipeline import process
from pipeline.config import find_project_root

PROJECT = find_project_root(Path(__file__).resolve().parent)


def _properties(input_base: Path) -> dict:
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_component_specs as keys
    from tfx.utils import proto_utils

    split = example_gen_pb2.SplitConfig.Split
    return {
        keys.INPUT_BASE_KEY: str(input_base),
        keys.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")])),
        keys.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                split(name="train", hash_buckets=3), split(name="eval", hash_buckets=1)]))),
        keys.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        keys.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }


def _ingest(executor, input_base: Path, out: Path) -> float:
    from tfx.types import standard_artifacts

    shutil.rmtree(out, ignore_errors=True)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(out)
    started = time.perf_counter()
    executor.Do({}, {"examples": [artifact]}, _properties(input_base))
    return time.perf_counter() - started


def _examples(out: Path) -> dict[str, list[bytes]]:
    import tensorflow as tf

    found = {}
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(str(out / f"Split-{split}" / "*"))
        found[split] = sorted(
            tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="taxi sample repeated N times")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    process.set_up(keras_home=PROJECT / "outputs" / ".keras")
    from tfx.components.example_gen.csv_example_gen import executor as stock

    from components.csv_example_gen.executor import Executor as Ours
    from pipeline.inputs.sources import tfx_taxi_csv

    with tempfile.TemporaryDirectory(prefix="bench-example-gen-") as scratch:
        root = Path(scratch)
        lines = tfx_taxi_csv().read_text(encoding="utf-8").splitlines(keepends=True)
        (root / "in").mkdir()
        (root / "in" / "data.csv").write_text(lines[0] + "".join(lines[1:] * args.copies))
        rows = (len(lines) - 1) * args.copies
        times: dict[str, list[float]] = {"ours": [], "tfx": []}
        for _ in range(args.repeat):
            times["ours"].append(_ingest(Ours(), root / "in", root / "ours"))
            times["tfx"].append(_ingest(stock.Executor(), root / "in", root / "tfx"))
        same = _examples(root / "ours") == _examples(root / "tfx")
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {"rows": rows, "repeat": args.repeat, "seconds": times, "median": medians,
              "ratio_tfx_over_ours": medians["tfx"] / medians["ours"], "same_examples": same}
    write_atomically(PROJECT / "outputs" / "bench" / "example_gen.json",
                     json.dumps(result, indent=2))
    print(f"{rows} rows, median of {args.repeat}: ours {medians['ours']:.1f} s, TFX's "
          f"{medians['tfx']:.1f} s (x{result['ratio_tfx_over_ours']:.2f}); same examples and "
          f"splits: {same}")


if __name__ == "__main__":
    main()
