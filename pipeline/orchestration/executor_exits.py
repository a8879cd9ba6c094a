"""A component whose code calls `sys.exit` fails as that component, recorded FAILED.

TFX's launcher records an executor's failure only for an `Exception`. A `SystemExit` (user code
calling `sys.exit`, or argparse in a module file) is not one: it went past the launcher, left the
execution RUNNING in ML Metadata and ended the whole run, a backfill's too, with no line saying
which component did it. `install` wraps TFX's in-process executor operator so that a
`SystemExit` from an executor is raised as `ExecutorExited`, an `Exception`: TFX records the
execution FAILED and removes its outputs, and the run reports that component as any other
failure.
"""

from __future__ import annotations

import functools
from typing import Any


class ExecutorExited(RuntimeError):
    """An executor called sys.exit."""


def _raising_exits(run_executor: Any) -> Any:
    @functools.wraps(run_executor)
    def run(self, execution_info: Any) -> Any:
        try:
            return run_executor(self, execution_info)
        except SystemExit as error:
            node = execution_info.pipeline_node
            name = node.node_info.id if node else "a component"
            raise ExecutorExited(f"{name}'s code called sys.exit({error.code!r}); a component "
                                 "must raise an error instead") from error

    run.original = run_executor
    return run


def install() -> None:
    """Wraps `PythonExecutorOperator.run_executor` in this process (once)."""
    from tfx.orchestration.portable import python_executor_operator as operators

    operator = operators.PythonExecutorOperator
    if not hasattr(operator.run_executor, "original"):
        operator.run_executor = _raising_exits(operator.run_executor)
