"""The description of a pipeline's Airflow DAG, kept in `<AIRFLOW_HOME>/dags/<dag id>.json`.

`tfxpipe airflow dag` builds the pipeline from its config (TFX loaded) and writes which nodes it
has and in which order; the DAG file reads only this JSON, so Airflow parses it without loading
TensorFlow or TFX. Each run's first task compares the nodes of the pipeline it compiles with the
spec's and rewrites the spec when they differ (a config or code change), so the next parse shows
the new graph.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.shared.files import to_json, write_atomically
from pipeline.config import Config


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    config_path: str
    output_root: str
    schedule: dict[str, Any]            # the config's [schedule]
    nodes: dict[str, list[str]]         # node id -> the ids of the nodes right upstream of it
    parallel: int                       # tasks of one run at once

    @staticmethod
    def read(path: str | os.PathLike[str]) -> DagSpec:
        return DagSpec(**json.loads(Path(path).read_text(encoding="utf-8")))

    def write(self, path: str | os.PathLike[str]) -> Path:
        return write_atomically(Path(path), to_json(asdict(self)))


def dag_id(config: Config) -> str:
    return f"tfxpipe_{config.pipeline.name}"


def spec_for(config: Config, nodes: dict[str, list[str]]) -> DagSpec:
    return DagSpec(dag_id=dag_id(config), config_path=config.config_path,
                   output_root=str(config.output_root), schedule=asdict(config.schedule),
                   nodes=nodes, parallel=config.pipeline.parallel_components)


def node_graph(ir: Any) -> dict[str, list[str]]:
    """Node id -> its upstream node ids, in the compiled pipeline's (topological) order."""
    return {node.pipeline_node.node_info.id: sorted(node.pipeline_node.upstream_nodes)
            for node in ir.nodes}
