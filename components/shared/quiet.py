"""TensorFlow's Python warnings silenced while reading results.

TFMA's and TFDV's readers log the deprecation notices of the libraries they call; a summary,
a notebook or a report shows results, not other libraries' housekeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_tensorflow_warnings() -> Iterator[None]:
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
