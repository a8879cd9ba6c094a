"""A tiny component for the runner's tests: it waits, then writes where and when it ran.

Stamps given the same `meet` folder wait there for each other (a barrier), so a test can prove
two nodes ran at the same time without betting on how long a launch takes. Importable by name
(`tests.runner_components`), as a worker process must import it.
"""

from __future__ import annotations

import json
import os
import time

from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import channel, component_spec, standard_artifacts
from tfx.types.component_spec import ExecutionParameter

MEET_TIMEOUT_SECONDS = 60.0


class ExpectedFailure(RuntimeError):
    """What a Stamp told to fail raises."""


def _meet(folder: str, name: str, peers: int) -> bool:
    """Says `name` has arrived in `folder`, then waits until `peers` stamps have. False when
    they have not within MEET_TIMEOUT_SECONDS: the stamps did not run at the same time."""
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, name), "w").close()
    deadline = time.monotonic() + MEET_TIMEOUT_SECONDS
    while len(os.listdir(folder)) < peers:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class StampExecutor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        started = time.time()
        met = None
        if exec_properties["meet"]:
            met = _meet(exec_properties["meet"], exec_properties["name"], exec_properties["peers"])
        time.sleep(exec_properties["seconds"])
        if exec_properties["fail"] == 2:
            os._exit(3)  # a process that dies, as one killed for lack of memory would
        if exec_properties["fail"]:
            raise ExpectedFailure(f"{exec_properties['name']} was told to fail")
        [out] = output_dict["stamp"]
        os.makedirs(os.path.dirname(out.uri), exist_ok=True)
        with open(out.uri, "w") as handle:  # a String artifact's uri is its value's file
            json.dump({"pid": os.getpid(), "started": started, "ended": time.time(),
                       "met": met}, handle)


class StampSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "name": ExecutionParameter(type=str),
        "seconds": ExecutionParameter(type=float),
        "fail": ExecutionParameter(type=int),
        "meet": ExecutionParameter(type=str),
        "peers": ExecutionParameter(type=int),
    }
    INPUTS = {"after": component_spec.ChannelParameter(type=standard_artifacts.String,
                                                       optional=True, allow_empty=True)}
    OUTPUTS = {"stamp": component_spec.ChannelParameter(type=standard_artifacts.String)}


class Stamp(base_component.BaseComponent):
    SPEC_CLASS = StampSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(StampExecutor)

    def __init__(self, name: str, seconds: float = 1.5, fail: int = 0, after=None,
                 meet: str = "", peers: int = 2):
        """`fail`: 1 raises ExpectedFailure, 2 ends the process. `meet`: a folder where `peers`
        stamps wait for each other before sleeping `seconds`."""
        super().__init__(spec=StampSpec(
            name=name, seconds=seconds, fail=fail, after=after, meet=meet, peers=peers,
            stamp=channel.Channel(type=standard_artifacts.String)))
