"""What the custom components share: their artifact types, how their parameters travel, the
layout of a trained model they read, and the one reader of a TFMA evaluation.

The bottom layer of the project: it imports no component and nothing of `pipeline`; every
component, the user modules (`pipeline/modules`) and the pipeline's own packages may import it.
"""
