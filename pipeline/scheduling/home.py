"""Airflow for one output root: `AIRFLOW_HOME` is `<output root>/airflow`, with its config, DAGs,
logs, PostgreSQL database and the scheduler's and web server's pid files; nothing in the home
directory.

- `write_dag`: the DAG's spec (the pipeline compiled once, TFX loaded) and the DAG file;
- `write_config`: `airflow.cfg` (LocalExecutor, so a run's independent tasks run side by side;
  127.0.0.1 only) on the PostgreSQL database of database.py;
- `airflow`: one `airflow` command on this home (the daemons are in daemons.py).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from components.shared.files import write_atomically
from pipeline.config import Config, ConfigError
from pipeline.inputs.sources import input_location
from pipeline.inputs.spans import has_span_spec
from pipeline.scheduling.spec import DagSpec, node_graph, spec_for

DAG_FILE = '''"""Airflow DAG of the tfxpipe pipeline '{name}', written by `tfxpipe airflow dag`
(rerun it after changing the config). The graph comes from {spec};
parsing this file loads no TensorFlow."""
from pipeline.scheduling.dag import build_dag

dag = build_dag({spec!r})
'''


@dataclass(frozen=True)
class Ports:
    web: int = 8080
    database: int = 5433


def airflow_home(config: Config) -> Path:
    return config.output_root / "airflow"


def airflow_env(home: Path) -> dict[str, str]:
    """The environment of every Airflow process of this output root. Its HOME is a folder of
    the Airflow home: what the daemons' libraries keep in a home directory (gunicorn's
    `.gunicorn`, say) stays in the output root too."""
    env = dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW_CONFIG=str(home / "airflow.cfg"),
               HOME=str(home / "home"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def write_dag(config: Config) -> tuple[Path, DagSpec]:
    """The DAG's spec and file in `<AIRFLOW_HOME>/dags/` (compiles the pipeline once)."""
    from tfx.dsl.compiler import compiler

    from pipeline.dag.pipelines import Pipelines
    from pipeline.inputs.prepare import prepare_input
    from pipeline.orchestration.run import code_revision

    if not config.schedule.start:
        raise ConfigError("[schedule] start is not set: say when the first data interval "
                          "starts, e.g. start = \"2024-01-01\" (see the README's Airflow part)")
    if not has_span_spec(input_location(config)[1]):
        raise ConfigError("scheduled runs read one span per interval: set data.pattern with "
                          "{SPAN}, e.g. 'span-{SPAN}/*.csv'")
    ir = compiler.Compiler().compile(
        Pipelines(config, prepare_input(config), code_revision(config.project_root)).full())
    spec = spec_for(config, node_graph(ir))
    dags = airflow_home(config) / "dags"
    spec_path = spec.write(dags / f"{spec.dag_id}.json")
    dag_file = dags / f"{spec.dag_id}.py"
    write_atomically(dag_file, DAG_FILE.format(name=config.pipeline.name, spec=str(spec_path)))
    return dag_file, spec


def write_config(home: Path, database_url: str, ports: Ports, parallel: int) -> Path:
    """`airflow.cfg`: what differs from Airflow's defaults (which fill in the rest)."""
    secret = home / "secret_key"
    if not secret.exists():
        write_atomically(secret, secrets.token_hex(16))
        secret.chmod(0o600)
    text = f"""[core]
dags_folder = {home / 'dags'}
executor = LocalExecutor
parallelism = {max(2, parallel)}
load_examples = False
dags_are_paused_at_creation = True
default_timezone = utc

[database]
sql_alchemy_conn = {database_url}

[logging]
base_log_folder = {home / 'logs'}
dag_processor_manager_log_location = {home / 'logs' / 'dag_processor_manager.log'}

[scheduler]
child_process_log_directory = {home / 'logs' / 'scheduler'}
dag_dir_list_interval = 30

[webserver]
web_server_host = 127.0.0.1
web_server_port = {ports.web}
secret_key = {secret.read_text().strip()}
config_file = {home / 'webserver_config.py'}
"""
    return write_atomically(home / "airflow.cfg", text)


def airflow(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """An `airflow` command of this environment on this AIRFLOW_HOME."""
    done = subprocess.run([str(Path(sys.executable).parent / "airflow"), *args],
                          env=airflow_env(home), capture_output=True, text=True)
    if check and done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed: {last[0]}")
    return done
