"""A local TFX runner that reports each component as it starts and ends.

It runs the compiled pipeline IR node by node, exactly as TFX's LocalDagRunner does, with two
additions: a run id chosen by the caller (so the run's log folder and MLMD agree), and callbacks
with each node's MLMD state (COMPLETE, CACHED, FAILED) and duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import compiler, constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher, runtime_parameter_utils
from tfx.utils import telemetry_utils


class NodeFailedError(RuntimeError):
    """A node ended FAILED in ML Metadata without its launcher raising."""


@dataclass
class NodeResult:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, SKIPPED
    seconds: float
    error: BaseException | None = None


def _state_name(mlmd_handle: metadata.Metadata, execution_id: int | None) -> str:
    if execution_id is None:
        return "SKIPPED"
    [execution] = mlmd_handle.store.get_executions_by_id([execution_id])
    return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


class ProgressRunner:
    def __init__(self, run_id: str,
                 on_start: Callable[[str], None] = lambda node_id: None,
                 on_finish: Callable[[NodeResult], None] = lambda result: None):
        self.run_id = run_id
        self.on_start = on_start
        self.on_finish = on_finish

    def run(self, pipeline) -> list[NodeResult]:
        """Runs every node in topological order; raises the first failure after reporting it."""
        ir = compiler.Compiler().compile(pipeline)
        runtime_parameter_utils.substitute_runtime_parameter(
            ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: self.run_id})
        deployment_config = runner_utils.extract_local_deployment_config(ir)
        connection_config = getattr(
            deployment_config.metadata_connection_config,
            deployment_config.metadata_connection_config.WhichOneof("connection_config"))
        results = []
        with telemetry_utils.scoped_labels({telemetry_utils.LABEL_TFX_RUNNER: "local"}):
            for node in ir.nodes:
                pipeline_node = node.pipeline_node
                node_id = pipeline_node.node_info.id
                node_launcher = launcher.Launcher(
                    pipeline_node=pipeline_node,
                    mlmd_connection=metadata.Metadata(connection_config),
                    pipeline_info=ir.pipeline_info,
                    pipeline_runtime_spec=ir.runtime_spec,
                    executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
                    custom_driver_spec=runner_utils.extract_custom_driver_spec(
                        deployment_config, node_id),
                )
                self.on_start(node_id)
                started = time.monotonic()
                try:
                    info = node_launcher.launch()
                except BaseException as error:
                    result = NodeResult(node_id, "FAILED", time.monotonic() - started, error)
                    results.append(result)
                    self.on_finish(result)
                    raise
                with metadata.Metadata(connection_config) as handle:
                    state = _state_name(handle, info.execution_id if info else None)
                result = NodeResult(node_id, state, time.monotonic() - started)
                if state == "FAILED":
                    # A node can fail without raising (e.g. its inputs could not be resolved):
                    # the nodes after it must not run, and the caller must know.
                    result.error = NodeFailedError(
                        f"{node_id} failed (its inputs could not be resolved or its executor "
                        "failed; see the log)")
                results.append(result)
                self.on_finish(result)
                if result.error is not None:
                    raise result.error
        return results

