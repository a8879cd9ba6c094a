"""Executes a notebook headless with nbclient on the project's kernel; exits 1 on a cell error.

`python -m tests.run_notebook IN.ipynb OUT.ipynb`: the executed notebook (outputs included) is
written to OUT.ipynb, also when a cell fails. The kernel inherits this process's environment,
so a caller runs several notebooks at once, each with its own run to review.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

KERNEL = "tabular-tfx"


def main(source: str, target: str) -> int:
    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(notebook, kernel_name=KERNEL, timeout=600,
                            resources={"metadata": {"path": str(Path(source).parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        print(str(error)[-4000:], file=sys.stderr)
        return 1
    finally:
        nbformat.write(notebook, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
