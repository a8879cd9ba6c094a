"""Names and kinds of the transformed features, shared by Transform, Trainer and evaluation.

Transform writes these features and the Trainer reads them back (and TFMA the label, as
`label_xf`: components/shared/model_contract.py). Keeping the naming and the feature list in one
place is what keeps the two sides from drifting apart when the config changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from components.shared.model_contract import LABEL_KEY

# Vocabulary file of a multiclass label: its size is the number of classes.
LABEL_VOCABULARY = "label"
# A missing categorical value is a category of its own: missingness often carries signal.
MISSING_CATEGORY = "__MISSING__"


def safe_name(column: str) -> str:
    """A raw column's name as TensorFlow names may be written (letters, digits, '_'): CSV headers
    hold spaces, parentheses and slashes ("mean radius", "od280/od315"). A feature named
    'label' is 'f_label': its input would be the label's (LABEL_KEY), its vocabulary a multiclass
    label's."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column)
    return name if name[:1].isalpha() and name != LABEL_VOCABULARY else f"f_{name}"


def transformed_name(key: str) -> str:
    return f"{safe_name(key)}_xf"


def bucket_name(key: str) -> str:
    return f"{safe_name(key)}_bucket_xf"


@dataclass(frozen=True)
class TransformedFeature:
    """One model input: a z-scored float, or an integer id with a known cardinality.

    The cardinality of an id is only known after Transform ran: it is the size of vocabulary
    `vocabulary` plus the OOV buckets, or `buckets` for a bucketized numeric.
    """

    name: str
    source: str
    kind: Literal["float", "id"]
    vocabulary: str | None = None
    buckets: int = 0


@dataclass(frozen=True)
class FeatureColumns:
    """The raw columns used as features, with the label column removed wherever it was listed."""

    numeric: list[str]
    categorical: list[str]
    bucketize: dict[str, int]


def feature_columns(custom_config: dict[str, Any]) -> FeatureColumns:
    """The raw feature columns of the config; the label column is never a feature."""
    label = custom_config["label"]["column"]
    features = custom_config["features"]
    numeric = [c for c in features.get("numeric", []) if c != label]
    categorical = [c for c in features.get("categorical", []) if c != label]
    bucketize = {c: int(n) for c, n in (features.get("bucketize") or {}).items() if c in numeric}
    return FeatureColumns(numeric=numeric, categorical=categorical, bucketize=bucketize)


def transformed_features(custom_config: dict[str, Any]) -> list[TransformedFeature]:
    """Every transformed feature, in a stable order: floats, then bucket ids, then vocab ids."""
    columns = feature_columns(custom_config)
    result = [TransformedFeature(transformed_name(c), c, "float") for c in columns.numeric]
    result += [TransformedFeature(bucket_name(c), c, "id", buckets=n)
               for c, n in columns.bucketize.items()]
    result += [TransformedFeature(transformed_name(c), c, "id", vocabulary=safe_name(c))
               for c in columns.categorical]
    names = [f.name for f in result] + [LABEL_KEY]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        sources = sorted(f.source for f in result if f.name in duplicates)
        raise ValueError(f"features {', '.join(repr(s) for s in sources)} have the same name as "
                         f"model inputs ({', '.join(duplicates)}): rename a column")
    return result


def cardinalities(custom_config: dict[str, Any],
                  vocabulary_size: Callable[[str], int]) -> dict[str, int]:
    """Number of distinct ids of each id feature, by transformed name.

    `vocabulary_size` maps a vocabulary file name to its size (after Transform ran, that is
    `TFTransformOutput.vocabulary_size_by_name`); OOV buckets come on top of the vocabulary.
    """
    oov = int(custom_config["transform"]["oov_buckets"])
    result = {}
    for feature in transformed_features(custom_config):
        if feature.vocabulary is not None:
            result[feature.name] = vocabulary_size(feature.vocabulary) + oov
        elif feature.kind == "id":
            result[feature.name] = feature.buckets
    return result
