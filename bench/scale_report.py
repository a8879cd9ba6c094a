"""The tables of `make bench-scale` (outputs/bench/scale.md) from its measured runs."""

from __future__ import annotations

import datetime
import platform

import psutil

ROWS = {"15k": 15_002, "150k": 150_020, "1.5M": 1_500_200}
GOAL_WALL_GROWTH = 10.0  # 1.5M rows end to end at most 10 times the 15k run
GOAL_OF_STOCK = 0.5      # at 150k at most half the stock example's time
LINEAR = ROWS["1.5M"] / ROWS["150k"]  # a component's growth from 150k to 1.5M, at most


def _machine() -> str:
    return (f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"{platform.machine()}, Python {platform.python_version()}")


def _runs_table(runs: list[dict]) -> list[str]:
    lines = ["| run | rows | wall (s) | peak memory (MB) | CPU (s) | exit | measured |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for run in runs:
        lines.append(f"| {run['name']} | {ROWS[run['size']]:,} | {run['seconds']:.1f} | "
                     f"{run['peak_mb']:.0f} | {run.get('cpu_seconds', 0.0):.0f} | "
                     f"{run['exit_code']} | {run.get('date', '')} |")
    return lines


def _ours(runs: list[dict], mode: str) -> dict[str, dict]:
    return {r["size"]: r for r in runs if r["kind"] == "ours" and r["beam_mode"] == mode
            and r["exit_code"] == 0}


def _components_table(ours: dict[str, dict]) -> list[str]:
    sizes = [s for s in ROWS if s in ours]
    names = list(dict.fromkeys(n for s in sizes for n in ours[s]["components"]))
    lines = ["| component | " + " | ".join(f"{s} (s)" for s in sizes) + " | 150k to 1.5M |",
             "|---|" + "---:|" * (len(sizes) + 1)]
    for name in names:
        cells = [ours[s]["components"].get(name) for s in sizes]
        growth = _growth(ours, name)
        lines.append(f"| {name} | " + " | ".join("" if c is None else f"{c:.1f}" for c in cells)
                     + f" | {growth} |")
    return lines


def _growth(ours: dict[str, dict], name: str) -> str:
    if "150k" not in ours or "1.5M" not in ours:
        return ""
    before = ours["150k"]["components"].get(name)
    after = ours["1.5M"]["components"].get(name)
    if not before or after is None:
        return ""
    ratio = after / before
    return f"x{ratio:.1f} ({'at most linear' if ratio <= LINEAR else 'MORE than linear'})"


def _goals(runs: list[dict], ours: dict[str, dict]) -> list[str]:
    lines = []
    if "15k" in ours and "1.5M" in ours:
        growth = ours["1.5M"]["seconds"] / ours["15k"]["seconds"]
        peak = ours["1.5M"]["peak_mb"] / 1024
        lines.append(f"- 1.5M rows took {growth:.1f} times the 15k run's wall time (goal: at "
                     f"most {GOAL_WALL_GROWTH:g}); peak memory {peak:.1f} GB (goal: under 8).")
    stock = {r["size"]: r for r in runs if r["kind"] == "stock" and r["exit_code"] == 0}
    for size in (s for s in ROWS if s in ours and s in stock):
        share = ours[size]["seconds"] / stock[size]["seconds"]
        goal = f" (goal at 150k: at most {GOAL_OF_STOCK:g})" if size == "150k" else ""
        lines.append(f"- At {size} rows ours took {share:.2f} of the stock example's time{goal}.")
    return lines


def render(runs: list[dict]) -> str:
    lines = [f"Rendered {datetime.date.today().isoformat()} on {_machine()}. Compare runs "
             "measured in one session (same date; the machine's load varies between sessions).",
             "", *_runs_table(runs)]
    modes = list(dict.fromkeys(r["beam_mode"] for r in runs if r["kind"] == "ours"))
    for mode in modes:
        ours = _ours(runs, mode)
        if ours:
            lines += ["", f"Our components ({mode}), seconds from each run's summary:", "",
                      *_components_table(ours)]
            goals = _goals(runs, ours)
            if goals:
                lines += ["", *goals]
    return "\n".join(lines) + "\n"
