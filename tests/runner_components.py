"""A tiny component for the runner's tests: it waits, then writes where and when it ran.

Importable by name (`tests.runner_components`), as a worker process must import it.
"""

from __future__ import annotations

import json
import os
import time

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import channel, component_spec, standard_artifacts
from tfx.types.component_spec import ExecutionParameter


class ExpectedFailure(RuntimeError):
    """What a Stamp told to fail raises."""


class StampExecutor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        started = time.time()
        time.sleep(exec_properties["seconds"])
        if exec_properties["fail"] == 2:
            os._exit(3)  # a process that dies, as one killed for lack of memory would
        if exec_properties["fail"]:
            raise ExpectedFailure(f"{exec_properties['name']} was told to fail")
        [out] = output_dict["stamp"]
        os.makedirs(os.path.dirname(out.uri), exist_ok=True)
        with open(out.uri, "w") as handle:  # a String artifact's uri is its value's file
            json.dump({"pid": os.getpid(), "started": started, "ended": time.time()}, handle)


class StampSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "name": ExecutionParameter(type=str),
        "seconds": ExecutionParameter(type=float),
        "fail": ExecutionParameter(type=int),
    }
    INPUTS = {"after": component_spec.ChannelParameter(type=standard_artifacts.String,
                                                       optional=True, allow_empty=True)}
    OUTPUTS = {"stamp": component_spec.ChannelParameter(type=standard_artifacts.String)}


class Stamp(base_component.BaseComponent):
    SPEC_CLASS = StampSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(StampExecutor)

    def __init__(self, name: str, seconds: float = 1.5, fail: int = 0, after=None):
        """`fail`: 1 raises ExpectedFailure, 2 ends the process."""
        super().__init__(spec=StampSpec(
            name=name, seconds=seconds, fail=fail, after=after,
            stamp=channel.Channel(type=standard_artifacts.String)))
