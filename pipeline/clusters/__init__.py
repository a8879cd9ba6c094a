"""Engines the pipeline's Beam jobs can run on, started on this machine (`tfxpipe flink`)."""
