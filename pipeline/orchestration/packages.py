"""The packages a PortableRunner's workers install, built once for the code they hold.

TFX repackages its own install as an sdist for every Beam job unless the Beam arguments name
the dependencies (tfx/utils/dependency_utils.py): seconds each, several times a run. Here both
sdists (TFX's executors, the way TFX builds them, and this project's components and modules)
are built into `<output root>/.beam-packages/` when the code changed since the last build, and
every Beam job of every run stages those files (dag/beam.py names them).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from components.shared.files import write_atomically
from components.shared.params import code_fingerprint
from pipeline.config import Config
from pipeline.dag.beam import worker_packages

STAMP = "fingerprint"
_TFX_SDIST = ("from tfx.utils import dependency_utils as d; "
              "print(d.build_ephemeral_package())")
_PROJECT_SDIST = ("import sys; from setuptools import build_meta as b; "
                  "print(sys.argv[1] + '/' + b.build_sdist(sys.argv[1]))")


class PackageError(RuntimeError):
    """A worker package could not be built; the message says why and what to do."""


def build_worker_packages(config: Config, say: Callable[[str], None]) -> list[Path]:
    """The runner's worker packages, built if missing or made of other code; [] when the
    runner needs none."""
    wanted = worker_packages(config)
    if not wanted:
        return []
    folder = wanted[0].parent
    fingerprint = packages_fingerprint(Path(config.project_root))
    stamp = folder / STAMP
    if all(p.exists() for p in wanted) and _read(stamp) == fingerprint:
        return wanted
    say(f"building the packages Beam's workers install (once per code change): {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-") as scratch:
        tfx = Path(_built(_TFX_SDIST, [], cwd=scratch, scratch=scratch,
                          what="TFX's executors"))
        project = Path(_built(_PROJECT_SDIST, [scratch], cwd=config.project_root,
                              scratch=scratch, what="the project"))
        for built, target in zip((tfx, project), wanted, strict=True):
            os.replace(built, target)
    write_atomically(stamp, fingerprint)
    return wanted


def packages_fingerprint(project_root: Path) -> str:
    """The TFX version and the sources of every folder of the project's packages, hashed."""
    folders = sorted({path.parent for package in ("components", "pipeline")
                      for path in (project_root / package).rglob("*.py")})
    sources = code_fingerprint(*folders)
    return hashlib.sha256(f"{metadata.version('tfx')} {sources}".encode()).hexdigest()[:16]


def _built(script: str, args: list[str], cwd: str | Path, scratch: str, what: str) -> str:
    # TFX builds in a mkdtemp() of its own: TMPDIR puts it in the scratch folder, removed after.
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, capture_output=True,
                          text=True, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise PackageError(f"building the sdist of {what} for Beam's workers failed: {last}; "
                           "or ship your own with --extra_package in [beam] extra_args")
    return lines[-1]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
