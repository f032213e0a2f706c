"""What a benchmark found: figures beside their baselines, verdicts against the issue's
targets, printed as a table and saved as JSON under bench/results/ (gitignored)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DISTURBED = 0.05  # other processes took more than this share of all cores' time


@dataclass
class Figure:
    what: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_what: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Verdict:
    target: str
    met: bool
    detail: str


@dataclass
class Result:
    name: str
    title: str
    command: str
    size: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # CPU other processes used during the run (see machine.CpuMeter); figures are only as
    # good as the machine was quiet.
    machine_load: dict[str, float] = field(default_factory=dict)
    code: str = ""

    def figure(self, what: str, value: float, unit: str, **baseline: Any) -> Figure:
        added = Figure(what, value, unit, **baseline)
        self.figures.append(added)
        return added

    def verdict(self, target: str, met: bool, detail: str) -> None:
        self.verdicts.append(Verdict(target, bool(met), detail))

    def note(self, text: str) -> None:
        self.notes.append(text)


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def format_value(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "×":
        return f"{value:.2f}×"
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def render(result: Result) -> str:
    """The result as plain text for a terminal (and for pasting into BENCHMARKS.md)."""
    lines = [f"== {result.name}: {result.title}", f"   {result.command}"]
    if result.size:
        lines.append("   size: " + ", ".join(f"{k}={v}" for k, v in result.size.items()))
    rows = [("figure", "value", "baseline", "ratio")]
    for fig in result.figures:
        baseline = ""
        if fig.baseline is not None:
            baseline = format_value(fig.baseline, fig.unit)
            if fig.baseline_what:
                baseline += f" ({fig.baseline_what})"
        ratio = format_value(fig.ratio, "×") if fig.ratio is not None else ""
        rows.append((fig.what, format_value(fig.value, fig.unit), baseline, ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        lines.append("   " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
    for verdict in result.verdicts:
        mark = "MET    " if verdict.met else "NOT MET"
        lines.append(f"   [{mark}] {verdict.target}: {verdict.detail}")
    lines += [f"   note: {note}" for note in result.notes]
    load = result.machine_load
    if load:
        share = load["other_share"]
        warning = "  ** disturbed: other processes were busy **" if share > DISTURBED else ""
        lines.append(
            f"   ({result.seconds:.0f} s; other processes used {load['other_cpu_s']:.0f} "
            f"CPU-s = {share:.0%} of the machine){warning}"
        )
    else:
        lines.append(f"   ({result.seconds:.0f} s)")
    return "\n".join(lines)


def save(result: Result) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{result.name}.json"
    data = asdict(result)
    data["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for fig, saved in zip(result.figures, data["figures"], strict=True):
        saved["ratio"] = fig.ratio
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path
