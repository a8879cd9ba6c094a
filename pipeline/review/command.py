"""`tfxpipe report`: writes a run's self-contained HTML report; `tfxpipe run` calls it too.

Plain Python at import: the CLI registers the command before anything heavy loads. The report's
modules (pandas, Matplotlib, TFMA) are imported inside the log redirection, so their noise goes
to the log, not the terminal.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from pipeline.config import Config, load_config
from pipeline.process import redirected_output
from pipeline.records.outcomes import EXIT_PUSHED as EXIT_OK
from pipeline.records.outcomes import EXIT_USAGE, one_line


def add_parser(sub, common: Callable[[argparse.ArgumentParser], None]) -> None:
    report = sub.add_parser(
        "report", help="write a run's self-contained HTML report (opens offline)",
        description="Writes outputs/<pipeline>/runs/<run id>/report.html for a run (default: the "
                    "latest) and prints its path.")
    common(report)
    report.add_argument("--run", metavar="RUN_ID",
                        help="run id, or a unique prefix of one (default: the latest run)")
    report.add_argument("--out", metavar="FILE",
                        help="write the report here instead of the run's folder")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.review.runs import ReviewError, open_run

    config = load_config(args.config, args.output_root)
    try:
        run = open_run(config, run_id=args.run)
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    log_path = run.run_dir / "report.log"
    with redirected_output(log_path, args.verbose):
        from pipeline.review.report import write_report

        path = write_report(run, Path(args.out).resolve() if args.out else None)
    print(f"report: {path}")
    return EXIT_OK


def report_after_run(config: Config, run_id: str, log_path: Path, verbose: bool) -> str:
    """The report of a run that just ended: its path, or one line saying why there is none.

    Never raises: a run's outcome and exit code do not depend on its report.
    """
    try:
        with redirected_output(log_path, verbose):
            try:
                from pipeline.review.report import write_report
                from pipeline.review.runs import open_run

                return str(write_report(open_run(config, run_id=run_id)))
            except Exception as error:
                traceback.print_exc(file=sys.stderr)  # into the run's log
                return f"not written ({one_line(error)}; trace in {log_path})"
    except Exception as error:  # the log itself could not be opened
        return f"not written ({type(error).__name__}: {error})"
