"""The user code TFX runs, referenced by import path (`pipeline/dag/user_code.py`):

- `transform.py`: Transform's `preprocessing_fn`, and `raw_label`, the label the data gates
  measure;
- `trainer.py`: Trainer's `run_fn`; `export_serving_model` and `describe_model_inputs`, which
  the ModelOptimizer calls;
- `tuning.py`: Tuner's `tuner_fn` (KerasTuner); `space.py`: the search space, and the tuned
  values the Trainer applies;
- `model.py`: the Keras model; `features.py`, `labels.py`: names and kinds shared by both.

They read only the `custom_config` dict they are given, never the config package. May import
`components.shared` (the trained model's layout contract); nothing else of the project.
"""
