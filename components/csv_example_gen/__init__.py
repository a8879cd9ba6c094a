"""CsvExampleGen: CSV files as tf.Examples, with missing values and delimiters as users write
them, read column by column.

The component loads on first use, so `params.py` (what the config's defaults come from) costs
no TensorFlow. Imports `components.shared`.
"""

from components.csv_example_gen.params import DEFAULT_MISSING_VALUES, CsvFormat
from components.shared.lazy import lazy_attributes

__all__ = ["DEFAULT_MISSING_VALUES", "CsvExampleGen", "CsvExampleGenSpec", "CsvFormat"]

__getattr__ = lazy_attributes(__name__, {"CsvExampleGen": "component",
                                         "CsvExampleGenSpec": "component"})
