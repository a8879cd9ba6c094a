"""A run's progress lines: one line per component as it ends (state and seconds); on a terminal,
a last line naming the components running now, overwritten as they end. In a log or a pipe,
only the results."""

from __future__ import annotations

from pipeline.orchestration.runner import NodeResult
from pipeline.process import Terminal


class ProgressLines:
    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self.interactive = terminal.stream.isatty()
        self.running: list[str] = []

    def on_start(self, node_id: str) -> None:
        self.running.append(node_id)
        if self.interactive:
            self.terminal.stream.write("\r\x1b[K")
        self._show_running()

    def on_finish(self, result: NodeResult) -> None:
        self.running.remove(result.node_id)
        start = "\r\x1b[K" if self.interactive else ""
        self.terminal.line(f"{start}  {result.node_id:<32} {result.state.lower():<10} "
                           f"{result.seconds:7.1f} s")
        self._show_running()

    def _show_running(self) -> None:
        if self.interactive and self.running:
            self.terminal.stream.write(f"  running: {', '.join(self.running)} ...")
            self.terminal.stream.flush()
