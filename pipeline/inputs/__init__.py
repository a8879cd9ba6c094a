"""What a run reads, before any TFX component runs: plain Python, no TensorFlow.

- `sources.py`: where the data comes from (a CSV file, span folders, the packaged taxi sample,
  materialised as monthly spans);
- `spans.py`: which spans exist, which span a run processes and which it trains on;
- `preflight.py`: the checks of every file of the window (encoding, quoting, columns), one
  file each by `csv_files.py`, whose findings `checked_files.py` keeps for unchanged files;
- `prepare.py`: `prepare_input`, all of the above for one run: its `InputData`.

May import `pipeline.config` and `components.shared`; nothing else of the project.
"""
