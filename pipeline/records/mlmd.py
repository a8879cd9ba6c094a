"""Read-only queries on the pipeline's ML Metadata store (SQLite).

TFX records each run as a `pipeline_run` context named by its run id, each component as a `node`
context named `<pipeline>.<node id>`, and each execution's artifacts as INPUT/OUTPUT events keyed
by channel name. These helpers answer "what did run R produce" and "which runs were there".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

STATE_NAMES = metadata_store_pb2.Execution.State.Name


@dataclass
class NodeRecord:
    node_id: str
    state: str
    execution_id: int
    seconds: float
    outputs: dict[str, list[metadata_store_pb2.Artifact]] = field(default_factory=dict)
    inputs: dict[str, list[metadata_store_pb2.Artifact]] = field(default_factory=dict)


def open_store(metadata_path: str | Path, writable: bool = False) -> metadata_store.MetadataStore:
    """The store, read-only unless `writable` (only with the output root's lock held)."""
    if not Path(metadata_path).is_file():
        raise FileNotFoundError(f"no metadata store at {metadata_path}: nothing has run yet")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    mode = metadata_store_pb2.SqliteMetadataSourceConfig
    config.sqlite.connection_mode = mode.READWRITE if writable else mode.READONLY
    return metadata_store.MetadataStore(config)


def run_ids(store: metadata_store.MetadataStore) -> list[tuple[str, int]]:
    """(run id, creation time in ms) of every pipeline run, oldest first."""
    runs = store.get_contexts_by_type("pipeline_run")
    return sorted(((c.name, c.create_time_since_epoch) for c in runs), key=lambda r: r[1])


def event_map(store, execution_id: int, kind: int) -> dict[str, list[metadata_store_pb2.Artifact]]:
    """{channel name: artifacts} of an execution's INPUT or OUTPUT events."""
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == kind]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    by_key: dict[str, list[metadata_store_pb2.Artifact]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        if event.artifact_id in artifacts:
            by_key.setdefault(key, []).append(artifacts[event.artifact_id])
    return by_key


def run_nodes(store: metadata_store.MetadataStore, pipeline_name: str, run_id: str
              ) -> dict[str, NodeRecord]:
    """The last execution of each node in run `run_id`, with its input and output artifacts."""
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        raise KeyError(f"no run '{run_id}' in the metadata store")
    prefix = f"{pipeline_name}."
    records: dict[str, NodeRecord] = {}
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
        node_id = next((c.name[len(prefix):] for c in store.get_contexts_by_execution(execution.id)
                        if c.type == "node" and c.name.startswith(prefix)), None)
        if node_id is None:
            continue
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
        records[node_id] = NodeRecord(
            node_id=node_id,
            state=STATE_NAMES(execution.last_known_state),
            execution_id=execution.id,
            seconds=seconds,
            outputs=event_map(store, execution.id, metadata_store_pb2.Event.OUTPUT),
            inputs=event_map(store, execution.id, metadata_store_pb2.Event.INPUT),
        )
    return records


def custom_property(artifact: metadata_store_pb2.Artifact, name: str):
    """A custom property's value (int, float or string), or None."""
    if name not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[name]
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def property_value(message, name: str):
    """A custom property's value, else a property's, else None (artifacts and executions)."""
    for kind_of_property in ("custom_properties", "properties"):
        values = getattr(message, kind_of_property)
        if name in values:
            kind = values[name].WhichOneof("value")
            return getattr(values[name], kind) if kind else None
    return None
