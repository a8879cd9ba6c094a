"""Running pipelines: one run top to bottom, and the machinery under it.

- `run.py`: `tfxpipe run`, from its inputs to its summary and report;
- `backfill.py`: ingest and validate the window's spans a run needs first;
- `runner.py`: launches a compiled pipeline's nodes as TFX's LocalDagRunner does, side by side
  where the graph allows, with progress callbacks; `progress.py` prints them;
- `workers.py`: the worker processes a second node runs in;
- `beam_patches.py`, `tfma_patches.py`: measured speed-ups of Beam 2.59 and TFMA 0.47.1,
  installed where nodes launch.

May import every package below it (review, records, dag, inputs, config, components).
"""
