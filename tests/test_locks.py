"""The two committed locks are one resolution: every package requirements.lock pins has the same
version in requirements-airflow.lock, so installing Airflow (`make airflow`) only adds packages."""

from __future__ import annotations

import re

from tests.fixtures import PROJECT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    text = (PROJECT / name).read_text(encoding="utf-8")
    return {package.lower().replace("_", "-"): version for package, version in PIN.findall(text)}


def test_the_airflow_lock_only_adds_to_the_project_lock():
    main, airflow = _pins("requirements.lock"), _pins("requirements-airflow.lock")
    assert len(main) > 100 and "apache-airflow" in airflow and "apache-airflow" not in main
    moved = {name: (version, airflow.get(name)) for name, version in main.items()
             if airflow.get(name) != version}
    assert moved == {}
    assert airflow["tfx"] == main["tfx"] == "1.16.0" and airflow["apache-beam"] == "2.59.0"
