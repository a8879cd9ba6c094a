"""The benchmarks (`make bench`, `make bench-optimize`): outside the installed package, run from
the project folder as `python -m bench.speed` and `python -m bench.optimize`. They write their
tables under outputs/bench/; docs/performance.md holds the dated figures.

An entry point like the CLI: the process is set up before anything imports TensorFlow.
"""

from pipeline import process

process.set_up()
