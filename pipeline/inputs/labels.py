"""The label's values over a run's window, as the pre-flight reads them: what a naive predictor
would score, and so what a model must beat when the config sets no threshold.

- binary: the naive predictor is a constant score, whose AUC is 0.5;
- multiclass: always the most frequent class, whose accuracy is that class's share;
- regression: always the mean, whose mean squared error is the label's variance.
The shares and the variance are of every row of the window with a label (train and eval: the
split is ExampleGen's, after this).

A binary label that is not derived is read cell by cell as the pipeline reads it
(`pipeline.modules.labels.binary_class`): its 0s and 1s are counted, and the text it cannot read
(a few examples), so that the pre-flight halts on such text, or on a window of one class.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.modules.labels import binary_class

UNREAD_KEPT = 3  # texts a binary label could not read, kept as examples (the rest counted)
OTHER_UNREAD = "(other text)"
READ_KEPT = 1000  # distinct texts of a binary label whose reading is remembered


@dataclass(frozen=True)
class LabelRule:
    """How the label column is read: its name and kind, and for a binary label its
    `positive_values` and whether it is derived (computed from two columns: not read here)."""

    column: str
    kind: str
    positive_values: tuple[str, ...] | None = None
    derived: bool = False


@dataclass
class LabelValues:
    """Running counts of one label column's present values (raw text, as written; a binary
    label's as 0, 1 and the text not read as either)."""

    kind: str
    classes: Counter = field(default_factory=Counter)
    count: int = 0
    mean: float = 0.0
    squares: float = 0.0  # sum of squared deviations from the mean (Welford)
    rule: LabelRule | None = None  # how a binary label's cells are read (None: not counted)
    # A binary label's class of each distinct text read so far: a handful of texts, one
    # reading each, not a regular expression on every row of the pre-flight's pass.
    _read: dict[str, int | None] = field(default_factory=dict, repr=False, compare=False)

    def add(self, text: str) -> None:
        if self.kind == "multiclass":
            self.classes[text] += 1
        elif self.kind == "binary" and self.rule is not None and not self.rule.derived:
            read = self._read.get(text, -1)
            if read == -1:
                read = binary_class(text, self.rule.positive_values)
                if len(self._read) < READ_KEPT:  # a column of free text is not kept whole
                    self._read[text] = read
            if read is not None:
                self.classes[str(read)] += 1
            else:
                unread = self.unread()
                kept = text in unread or len(unread) < UNREAD_KEPT
                self.classes[text if kept else OTHER_UNREAD] += 1
        elif self.kind == "regression":
            try:
                value = float(text)
            except ValueError:
                return  # not a number: the pre-flight's NOT_NUMERIC row says so
            self.count += 1
            delta = value - self.mean
            self.mean += delta / self.count
            self.squares += delta * (value - self.mean)

    def only_value(self) -> tuple[str, int] | None:
        """(the value, rows) when two rows or more have a label and all the same one (a derived
        binary label is not counted: None)."""
        if self.kind == "regression":
            same = self.count >= 2 and self.squares == 0.0
            return (f"{self.mean:g}", self.count) if same else None
        read = {k: n for k, n in self.classes.items()
                if self.kind != "binary" or k in ("0", "1")}
        if len(read) != 1 or sum(read.values()) < 2:
            return None
        [(value, rows)] = read.items()
        if self.kind == "binary":
            return ("positive (1)" if value == "1" else "negative (0)"), rows
        return f"'{value}'", rows

    def unread(self) -> Counter:
        """A binary label's texts read as neither 0 nor 1, with their counts."""
        if self.kind != "binary":
            return Counter()
        return Counter({k: n for k, n in self.classes.items() if k not in ("0", "1")})

    def merge(self, other: LabelValues) -> None:
        if self.kind in ("multiclass", "binary"):
            self.classes.update(other.classes)
        elif self.kind == "regression" and other.count:
            total = self.count + other.count
            delta = other.mean - self.mean
            self.squares += other.squares + delta * delta * self.count * other.count / total
            self.mean += delta * other.count / total
            self.count = total

    def naive(self) -> tuple[str, float, str] | None:
        """(metric, the naive predictor's value, what that predictor is); None without data."""
        if self.kind == "binary":
            return "auc", 0.5, "a constant score (AUC 0.5)"
        if self.kind == "multiclass" and self.classes:
            top, n = self.classes.most_common(1)[0]
            share = n / sum(self.classes.values())
            return "accuracy", share, f"always the most frequent class '{top}' ({share:.1%})"
        if self.kind == "regression" and self.count > 1:
            variance = self.squares / self.count
            return "mse", variance, (f"always the mean {self.mean:.4g} (mean squared error "
                                     f"{variance:.4g}, the label's variance)")
        return None
