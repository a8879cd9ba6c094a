"""TFX Transform module: `preprocessing_fn`, driven entirely by the pipeline's custom_config.

Every statistic (imputation value, mean/std, vocabularies, bucket boundaries) is a tf.Transform
analyzer over the training split, so serving applies exactly what training saw. The label is
computed only from its own column (and a derive denominator): at serving time that column is
absent and TFT prunes the label output, which works only if no feature depends on the label.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from components.shared.model_contract import LABEL_KEY
from pipeline.modules import labels
from pipeline.modules.features import (
    LABEL_VOCABULARY,
    MISSING_CATEGORY,
    bucket_name,
    feature_columns,
    safe_name,
    transformed_name,
)

TensorLike = tf.Tensor | tf.SparseTensor | tf.RaggedTensor


def preprocessing_fn(inputs: dict[str, TensorLike],
                     custom_config: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Raw columns -> `<name>_xf` features (and bucket ids) plus `label_xf`, all [batch, 1]."""
    columns = feature_columns(custom_config)
    settings = custom_config["transform"]
    outputs: dict[str, tf.Tensor] = {}
    for name in columns.numeric:
        value, present = numeric_column(inputs[name])
        fill, mean, std = _statistics(value, present, settings["impute"])
        imputed = tf.where(present, value, fill)
        outputs[transformed_name(name)] = (imputed - mean) / std
        if name in columns.bucketize:
            outputs[bucket_name(name)] = _bucketize(value, present, imputed,
                                                    columns.bucketize[name])
    for name in columns.categorical:
        outputs[transformed_name(name)] = tft.compute_and_apply_vocabulary(
            string_column(inputs[name]), top_k=int(settings["vocab_size"]),
            num_oov_buckets=int(settings["oov_buckets"]), vocab_filename=safe_name(name))
    outputs[LABEL_KEY] = label(inputs, custom_config["label"])
    return outputs


# ---------------------------------------------------------------------------------------------
# Columns: any input form -> dense [batch, 1]


def _map_values(x: TensorLike, fn: Any) -> tf.Tensor | tf.SparseTensor:
    """Applies an elementwise `fn` to a dense or sparse (or ragged) tensor's values."""
    if isinstance(x, tf.RaggedTensor):
        x = x.to_sparse()
    if isinstance(x, tf.SparseTensor):
        return tf.SparseTensor(x.indices, fn(x.values), x.dense_shape)
    return fn(x)


def _dense_column(x: tf.Tensor | tf.SparseTensor, default: Any) -> tf.Tensor:
    """[batch, 1]: a missing value (an empty sparse row) becomes `default`; extra values dropped.

    Features that may be missing arrive as sparse [batch, None]; features always present as
    dense [batch] or [batch, 1].
    """
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x, default_value=default)
        # An all-missing batch densifies to [batch, 0]: pad so column 0 always exists.
        x = tf.concat([x, tf.fill([tf.shape(x)[0], 1], tf.constant(default, x.dtype))], axis=1)
    elif x.shape.rank == 1:
        x = tf.expand_dims(x, axis=1)
    return tf.reshape(x[:, :1], [-1, 1])  # a static [None, 1] shape for the output schema


def _to_float(values: tf.Tensor) -> tf.Tensor:
    if values.dtype == tf.string:
        return tf.strings.to_number(values, out_type=tf.float32)
    return tf.cast(values, tf.float32)


def _to_string(values: tf.Tensor) -> tf.Tensor:
    if values.dtype == tf.string:
        return values
    if values.dtype.is_floating:
        return tf.strings.as_string(values, shortest=True)  # 3.0 -> "3", as an int would read
    return tf.strings.as_string(values)


def numeric_column(x: TensorLike) -> tuple[tf.Tensor, tf.Tensor]:
    """(float32 [batch, 1] with NaN where missing, bool [batch, 1] presence).

    NaN in the data counts as missing too: one NaN would otherwise poison the mean.
    """
    value = _dense_column(_map_values(x, _to_float), float("nan"))
    return value, tf.logical_not(tf.math.is_nan(value))


def string_column(x: TensorLike) -> tf.Tensor:
    """String [batch, 1], without the spaces around it (as the pre-flight reads a cell); numbers
    become their text, missing or empty becomes MISSING_CATEGORY."""
    value = tf.strings.strip(_dense_column(_map_values(x, _to_string), MISSING_CATEGORY))
    return tf.where(tf.equal(value, ""), MISSING_CATEGORY, value)


# ---------------------------------------------------------------------------------------------
# Analyzers over the present values


def _finite_or(value: tf.Tensor, fallback: float) -> tf.Tensor:
    """Guards statistics of a column that had no present value in the training data."""
    return tf.where(tf.math.is_finite(value), value, fallback)


def _median(observed: tf.Tensor, fallback: tf.Tensor) -> tf.Tensor:
    # Two quantile buckets: the single boundary between them is the median.
    boundaries = tf.reshape(tft.quantiles(observed, num_buckets=2, epsilon=0.001), [-1])
    return tf.cond(tf.size(boundaries) > 0, lambda: boundaries[0], lambda: fallback)


def _statistics(value: tf.Tensor, present: tf.Tensor,
                impute: str) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(imputation value, mean, std) of the present values only, std guarded against 0."""
    observed = tf.boolean_mask(value, present)
    mean = _finite_or(tft.mean(observed), 0.0)
    std = tf.sqrt(_finite_or(tft.var(observed), 0.0))
    std = tf.where(std > 0, std, 1.0)
    if impute == "mean":
        return mean, mean, std
    if impute == "median":
        return _finite_or(_median(observed, mean), 0.0), mean, std
    raise ValueError(f"unknown impute '{impute}': use 'mean' or 'median'")


def _bucketize(value: tf.Tensor, present: tf.Tensor, imputed: tf.Tensor,
               num_buckets: int) -> tf.Tensor:
    """Bucket ids of the imputed values, with boundaries from the present values' quantiles.

    Boundaries from present values only are not skewed by the imputed mass at one point, and
    they do not depend on the imputation analyzer: tf.Transform needs no second analysis phase
    (one more pass over the data and one more traced graph).
    """
    boundaries = tft.quantiles(tf.boolean_mask(value, present), num_buckets, epsilon=0.001)
    return tft.apply_buckets(imputed, boundaries)


# ---------------------------------------------------------------------------------------------
# Label


def label(inputs: dict[str, TensorLike], label_config: dict[str, Any]) -> tf.Tensor:
    """`label_xf`: int64 class (binary 0/1, multiclass index) or float32 regression target."""
    kind = label_config["kind"]
    raw = raw_label(inputs, label_config)
    if kind == "binary":
        return raw
    if kind == "multiclass":
        # No OOV bucket: a class never seen in training cannot be learned (it maps to -1).
        return tft.compute_and_apply_vocabulary(
            raw, num_oov_buckets=0, vocab_filename=LABEL_VOCABULARY)
    # Rows without a label are a data problem caught upstream; the mean keeps the graph total.
    present = tf.logical_not(tf.math.is_nan(raw))
    mean = _finite_or(tft.mean(tf.boolean_mask(raw, present)), 0.0)
    return tf.where(present, raw, mean)


def raw_label(inputs: dict[str, TensorLike], label_config: dict[str, Any]) -> tf.Tensor:
    """The label before any analyzer, [batch, 1]: int64 0/1 (binary), the class text
    (multiclass), float32 with NaN where missing (regression). Runs eagerly too: the data gates
    measure the label's drift with it (see components/data_drift)."""
    kind = label_config["kind"]
    if kind == "binary":
        return binary_label(inputs, label_config)
    column = inputs[label_config["column"]]
    if kind == "multiclass":
        return string_column(column)
    if kind == "regression":
        return numeric_column(column)[0]
    raise ValueError(f"unknown label kind '{kind}'")


def binary_label(inputs: dict[str, TensorLike], label_config: dict[str, Any]) -> tf.Tensor:
    """int64 0/1 [batch, 1]. Needs no analyzer, so it is the same on every split.

    - derive ratio_above: 1 iff column > threshold * denominator (missing or zero -> 0);
    - positive_values: 1 iff the value's text (stripped) is one of them;
    - otherwise positive numbers are 1 (0/1 data maps to itself), and so are true/yes in any
      case against false/no (`labels.binary_class`: the pre-flight reads every cell the same
      way, and halts on text that is neither).
    """
    column = inputs[label_config["column"]]
    derive = label_config.get("derive")
    positive_values = label_config.get("positive_values")
    if derive:
        if derive["type"] != "ratio_above":
            raise ValueError(f"unknown label derive type '{derive['type']}'")
        numerator, has_numerator = numeric_column(column)
        denominator, has_denominator = numeric_column(inputs[derive["denominator"]])
        above = numerator > float(derive["threshold"]) * denominator
        positive = has_numerator & has_denominator & tf.not_equal(denominator, 0.0) & above
    elif positive_values is not None:
        value, number = _number_in(column)
        positive = _text_in(string_column(column), positive_values) | (
            number & _text_in(value, labels.numeric_values(positive_values)))
    else:  # numbers, or true/false and yes/no in any case
        value, number = _number_in(column)
        positive = (number & (value > 0)) | _text_in(tf.strings.lower(string_column(column)),
                                                     labels.TRUE_WORDS)
    return tf.cast(positive, tf.int64)


def _number_in(column: TensorLike) -> tuple[tf.Tensor, tf.Tensor]:
    """(float32 [batch, 1], bool [batch, 1]): each row's number, and whether it has one; a
    text column's cells that are not numbers (`labels.NUMBER`) have none, and do not fail."""
    if column.dtype != tf.string:
        return numeric_column(column)
    text = string_column(column)
    number = tf.strings.regex_full_match(text, labels.NUMBER)
    return tf.strings.to_number(tf.where(number, text, "0"), out_type=tf.float32), number


def _text_in(values: tf.Tensor, targets: Any) -> tf.Tensor:
    """bool [batch, 1]: whether each row's value [batch, 1] (text or float32) is one of
    `targets`."""
    if not len(targets):
        return tf.zeros_like(values, dtype=tf.bool)
    wanted = tf.constant([str(t) for t in targets] if values.dtype == tf.string else targets,
                         dtype=values.dtype)
    return tf.reduce_any(tf.equal(values, wanted), axis=1, keepdims=True)
