"""Scheduled runs on Apache Airflow: one DAG per pipeline config, one task per TFX node.

- `intervals.py`: which span a data interval is (pure Python);
- `spec.py`: the DAG's description (schedule, nodes and their order), written by
  `tfxpipe airflow dag` with TFX loaded, read by the DAG file without it;
- `dag.py`: the Airflow DAG built from a spec (imports Airflow only: parses in well under 2 s);
- `tasks.py`: what each task does (TensorFlow and TFX load inside the task, never at parse time);
- `home.py` and `database.py`: `AIRFLOW_HOME` inside the output root, PostgreSQL, the scheduler
  and the web server.
"""
