"""SpanWindow executor: copies the split files of each span into one Examples artifact."""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.shared.artifacts import span_of

# ExampleGen's custom properties that say how to read the files: carried over unchanged.
FORMAT_PROPERTIES = ("file_format", "payload_format")


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        spans = sorted(input_dict["examples"], key=lambda a: (span_of(a), a.id or 0))
        if not spans:
            raise ValueError("SpanWindow got no Examples: the window resolved to no span")
        window = artifact_utils.get_single_instance(output_dict["window"])
        splits = [s for s in artifact_utils.decode_split_names(spans[0].split_names)
                  if all(s in artifact_utils.decode_split_names(a.split_names) for a in spans)]
        for name in FORMAT_PROPERTIES:
            values = {a.get_string_custom_property(name) for a in spans}
            if len(values) > 1:
                raise ValueError(f"the spans of the window differ in {name}: {sorted(values)}")
            window.set_string_custom_property(name, values.pop())
        for split in splits:
            destination = os.path.join(window.uri, f"Split-{split}")
            fileio.makedirs(destination)
            for artifact in spans:
                source = artifact_utils.get_split_uri([artifact], split)
                for path in sorted(fileio.glob(os.path.join(source, "*"))):
                    fileio.copy(path, os.path.join(
                        destination, f"span-{span_of(artifact)}-{os.path.basename(path)}"))
        window.split_names = artifact_utils.encode_split_names(splits)
        window.set_int_custom_property("span", span_of(spans[-1]))
        window.set_string_custom_property("window_spans", json.dumps([span_of(a) for a in spans]))
        window.set_string_custom_property("window_examples_ids",
                                          json.dumps([a.id for a in spans]))
        logging.info("SpanWindow: spans %s in %s", [span_of(a) for a in spans], window.uri)
