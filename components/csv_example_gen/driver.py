"""TFX's file-based ExampleGen driver (span and version resolved, input pattern filled in, the
Examples artifact's span, version and fingerprint), with the fingerprint of fingerprint.py,
which includes the files' contents."""

from __future__ import annotations

from collections.abc import Iterable

from tfx.components.example_gen import driver, input_processor
from tfx.proto import example_gen_pb2, range_config_pb2

from components.csv_example_gen.fingerprint import fingerprint_span_and_version


class _InputProcessor(input_processor.FileBasedInputProcessor):
    """TFX's (1.16), whose `resolve_span_and_version` this mirrors with the other
    fingerprint."""

    def resolve_span_and_version(self) -> tuple[int, int | None]:
        self._fingerprint, span, version = fingerprint_span_and_version(
            self._input_base_uri, self._splits, self._range_config)
        return span, version


class Driver(driver.FileBasedDriver):
    def get_input_processor(self, splits: Iterable[example_gen_pb2.Input.Split],
                            range_config: range_config_pb2.RangeConfig | None = None,
                            input_base_uri: str | None = None
                            ) -> input_processor.InputProcessor:
        assert input_base_uri, "a file-based ExampleGen has an input_base"
        return _InputProcessor(input_base_uri, splits, range_config)
