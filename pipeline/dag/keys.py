"""What a component's cache key and a span's validation depend on, beyond the data.

- `validation_key`: the schema, the label, the drift and new-column rules, the split and how the
  CSV is read (delimiter, missing values, columns read as text). A span validated under another
  key is ingested and validated again.
- `schema_snapshot`: ImportSchemaGen's cache key holds the schema file's path, not its content:
  pointed at the curated file, an edited schema would be served from cache and never take
  effect. A copy at a path named by its content makes an edit a new input, and keeps every
  version that was used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from pipeline.config import Config
from pipeline.dag.user_code import label_config


def validation_key(config: Config, delimiter: str) -> str:
    digest = hashlib.sha256()
    if config.schema.path:
        digest.update(Path(config.schema.path).read_bytes())
    digest.update(json.dumps({
        "label": label_config(config),
        "validation": {"label_drift": config.validation.label_drift,
                       "label_shift": config.validation.label_shift,
                       "new_columns": config.validation.new_columns,
                       "new_label_classes": config.validation.new_label_classes,
                       "min_examples": config.validation.min_examples,
                       "empty_split": config.validation.empty_split},
        "split": [config.split.train, config.split.eval],
        "csv": {"delimiter": delimiter, "missing_values": config.data.missing_values,
                "text_columns": sorted(config.data.text_columns)},
    }, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def schema_snapshot(config: Config) -> str:
    """The curated schema copied to `<pipeline>/schemas/<content hash>/schema.pbtxt`."""
    content = Path(config.schema.path).read_bytes()
    folder = config.pipeline_dir / "schemas" / hashlib.sha256(content).hexdigest()[:16]
    path = folder / "schema.pbtxt"
    if not path.is_file() or path.read_bytes() != content:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(temp, path)
    return str(path)
