"""Larger taxi inputs for `make bench-scale`: the packaged CSV's rows repeated with jitter.

Copy 0 is the packaged rows as they are. In every other copy each row's fare, tips, total and
distance are scaled by one factor drawn for that row (0.9 to 1.1), so the tip's share of the fare,
which the label is derived from, stays where it was (a row whose share would cross the label's
20% line by rounding keeps its original values), and the coordinates move by up to about 50 m.
Every other cell, and every missing value, is written as it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.shared.files import write_atomically
from pipeline.inputs.sources import tfx_taxi_csv

SCALED = ("fare", "tips", "trip_total", "trip_miles")
MOVED = ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude")
LABEL_SHARE = 0.2  # the taxi config's label: tips above this share of the fare


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")


def _big_tipper(frame: pd.DataFrame) -> np.ndarray:
    return (_numbers(frame, "tips") > LABEL_SHARE * _numbers(frame, "fare")).to_numpy()


def jittered(rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A copy of `rows` (every cell text) with the jitter of the module's docstring."""
    random = np.random.default_rng(seed)
    copy = rows.copy()
    factor = random.uniform(0.9, 1.1, len(rows))
    for column in (c for c in SCALED if c in rows):
        values = _numbers(rows, column)
        copy[column] = np.where(values.isna(), rows[column], (values * factor).round(2).astype(str))
    for column in (c for c in MOVED if c in rows):
        values = _numbers(rows, column)
        moved = (values + random.uniform(-5e-4, 5e-4, len(rows))).round(6).astype(str)
        copy[column] = np.where(values.isna(), rows[column], moved)
    if {"tips", "fare"} <= set(rows):
        flipped = _big_tipper(copy) != _big_tipper(rows)
        scaled = [c for c in SCALED if c in rows]
        copy.loc[flipped, scaled] = rows.loc[flipped, scaled]
    return copy


def generate(copies: int, target: Path, source: Path | None = None) -> Path:
    """`copies` jittered copies of the packaged taxi CSV (or `source`) as one CSV at `target`;
    kept when it is already there (written aside and renamed, so it is whole)."""
    if target.is_file():
        return target
    rows = pd.read_csv(source or tfx_taxi_csv(), dtype=str, keep_default_na=False)
    frames = [rows] + [jittered(rows, seed) for seed in range(1, copies)]
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, pd.concat(frames, ignore_index=True).to_csv(index=False))
    return target
