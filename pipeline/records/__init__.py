"""What runs left behind, read back: ML Metadata queries, a run's summary and its text, the list
of runs and pushed versions, and where a pushed version came from.

- `mlmd.py`: read-only queries on the ML Metadata store;
- `summary.py`: a run's summary from ML Metadata and its artifacts (`summary.json`);
- `render.py`: the summary as the lines `tfxpipe run` prints;
- `variants.py`: the optimization stage's rows of the summary;
- `outcomes.py`: exit codes and outcome names, and the summary file;
- `runs.py`: `tfxpipe runs`: runs and pushed versions (no TensorFlow);
- `lineage.py`: `tfxpipe lineage`.

May import `pipeline.dag.nodes` (node ids), `pipeline.inputs`, `pipeline.config` and the
components; never the orchestration or the review.
"""
