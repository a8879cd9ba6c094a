"""tabular-tfx: a config-driven TFX pipeline for tabular CSV data.

The packages, top to bottom; a module may import the packages below its own, never above
(`tests/test_layers.py` checks it, and that no import cycle exists):

    cli.py            `tfxpipe`: parses a command, loads the config, hands over
    orchestration/    a run top to bottom: backfill, the node runner and its worker processes
    review/           the HTML report, the notebooks' helpers, `tfxpipe schema`
    records/          ML Metadata readers and a run's records: summary, runs, versions, lineage
    dag/              which TFX components a pipeline holds and how they are wired
    inputs/           where the data comes from, which spans a run reads, pre-flight checks
    config/           the one typed, validated configuration
    modules/          the user code TFX runs: Transform's preprocessing_fn, Trainer's run_fn
    process.py        how every process is set up (environment, logging, log redirection)

Below them all, `components/`: the custom TFX components, which import nothing of `pipeline`,
and `components/shared/`, which every package may import.
"""
