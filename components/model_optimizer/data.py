"""Transformed examples (Transform's output) as model-ready batches, and size measurements."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.shared.model_contract import LABEL_KEY

_SHUFFLE_BUFFER = 10_000
# Enough batches for stable label frequencies without a pass over a large training set.
_LABEL_BATCHES = 100


def split_files(artifact_uri: str, split: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(os.path.join(artifact_uri, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"no '{split}' split under {artifact_uri}")
    return files


def transformed_dataset(files: list[str], output: tft.TFTransformOutput, input_names: list[str],
                        batch_size: int, seed: int | None = None, repeat: bool = True
                        ) -> tf.data.Dataset:
    """(features, label_xf) batches of transformed examples; shuffled and endless by default."""
    spec = output.transformed_feature_spec()
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if seed is not None:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()

    def parse(serialized: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        parsed = tf.io.parse_example(serialized, spec)
        return {name: parsed[name] for name in input_names}, parsed[LABEL_KEY]

    return dataset.batch(batch_size).map(parse)


def balanced_class_weights(dataset: tf.data.Dataset, task: str) -> dict[int, float] | None:
    """n / (classes * count) per class over the first batches of (features, label) `dataset`,
    so that every class weighs as much in the loss (absent classes get 1); None for
    regression."""
    if task == "regression":
        return None
    labels = np.concatenate([y.numpy().ravel().astype(np.int64)
                             for _, y in dataset.take(_LABEL_BATCHES)])
    counts = np.bincount(labels[labels >= 0], minlength=2)
    total, classes = float(counts.sum()), len(counts)
    return {i: (total / (classes * float(c)) if c > 0 else 1.0) for i, c in enumerate(counts)}


def representative_sample(files: list[str], output: tft.TFTransformOutput,
                          input_names: list[str], count: int) -> list[dict[str, np.ndarray]]:
    """The first `count` transformed training examples, one per batch, as the converter wants."""
    dataset = transformed_dataset(files, output, input_names, batch_size=1, repeat=False)
    return [{k: v.numpy() for k, v in features.items()}
            for features, _ in dataset.take(count)]


# ---------------------------------------------------------------------------------------------
# Sizes


def size_on_disk(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(path) for name in names)


def gzip_size(path: str) -> int:
    """gzip -9 of a file, or of a deterministic tar of a folder (sorted, no times or owners)."""
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            return len(gzip.compress(handle.read(), compresslevel=9, mtime=0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(folder, name)
                info = tar.gettarinfo(full, arcname=os.path.relpath(full, path))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with open(full, "rb") as handle:
                    tar.addfile(info, handle)
    return len(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))


def weights_sizes(model: tf.keras.Model) -> dict[str, int]:
    """The model's weights as float32 arrays (no graph, no optimizer state): raw and gzip -9."""
    raw = b"".join(np.asarray(w, dtype=np.float32).tobytes() for w in model.get_weights())
    return {"weights_bytes": len(raw),
            "weights_gzip_bytes": len(gzip.compress(raw, compresslevel=9, mtime=0))}
