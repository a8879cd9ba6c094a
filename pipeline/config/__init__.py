"""The pipeline's one typed, validated configuration.

A pipeline is described by one TOML file (`pipeline/configs/`). `load_config` parses it into
frozen dataclasses and rejects, with one precise line each, unknown keys, wrong types, missing
files and values out of range.

- `sections.py`: the dataclasses, their defaults and the paths derived from them;
- `loader.py`: TOML -> dataclasses, type-checked against their annotations, paths resolved;
- `checks.py`: the checks of values and of how sections fit together;
- `catalogue.py`: which metrics and variants each task kind has;
- `errors.py`: `ConfigError`.

Imports nothing of the project but this package, the components' parameter defaults
(`components.csv_example_gen.params`) and the user modules' naming rule
(`pipeline.modules.features.safe_name`): every other package may import it.
"""

from pipeline.config.errors import ConfigError
from pipeline.config.loader import find_project_root, load_config
from pipeline.config.sections import Config

__all__ = ["Config", "ConfigError", "find_project_root", "load_config"]
