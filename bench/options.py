"""What every benchmark is told: default or full sizes, the engine, where to keep run data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    full: bool = False
    # The extraction engine for the system benchmarks; None: the setting (DOCJOBS_EXTRACT_ENGINE).
    engine: str | None = None
    keep: bool = False  # keep each run's data directory (child logs, Redis log) for a look

    def resolved_engine(self) -> str:
        """The engine the system benchmarks run: --engine, else the setting (pypdf by default)."""
        from docjobs.settings import Settings

        return self.engine or Settings(_env_file=None).extract_engine

    def size(self, default: int, full: int) -> int:
        return full if self.full else default

    def command(self, name: str) -> str:
        """The exact command that reproduces this benchmark's figures."""
        parts = [".venv/bin/python -m bench", name]
        if self.full:
            parts.append("--full")
        if self.engine:
            parts.append(f"--engine {self.engine}")
        return " ".join(parts)
