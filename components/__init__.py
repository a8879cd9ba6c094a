"""The custom TFX components, each a folder: `component.py` (the ComponentSpec with typed
channels, and the component, which takes Python values and typed parameter objects and
serialises them itself), `executor.py`, `params.py` where it has parameter objects, and
`executor_test.py` beside them, run on small real artifacts.

They stand alone: nothing here imports `pipeline`. What a component needs of the user's code
reaches it as a module path or file, loaded with TFX's own utilities
(`shared/user_code.py`). A component may import `components.shared` and, without cycles, the
library code of another component (SpanValidation reuses DataDrift's and DataGate's).
"""
