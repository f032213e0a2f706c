"""`python -m bench [names…] [--full] [--engine E]`: run all benchmarks or the ones named."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

from bench.machine import CpuMeter, describe
from bench.options import Options
from bench.report import Result, render, save

# Name on the command line → module; in the order of the table.
BENCHMARKS = {
    "ack": "bench.ack_latency",
    "e2e": "bench.end_to_end",
    "calls": "bench.slack_calls",
    "burst": "bench.burst",
    "memory": "bench.worker_memory",
    "split": "bench.split_pages",
    "engines": "bench.engines",
    "store": "bench.store_pages",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--full", action="store_true", help="the issue's full sizes (slow)")
    parser.add_argument(
        "--engine",
        choices=("pypdf", "pdfium", "auto"),
        help="extraction engine for the system benchmarks (default: DOCJOBS_EXTRACT_ENGINE)",
    )
    parser.add_argument("--keep", action="store_true", help="keep run directories and logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
    )
    options = Options(full=args.full, engine=args.engine, keep=args.keep)
    machine = describe()
    print(
        f"machine: {machine['nproc']} cores, {machine['cpu']}, Python {machine['python']}; "
        f"code: {machine['code']}"
    )
    results: list[Result] = []
    for name in args.names or list(BENCHMARKS):
        module = importlib.import_module(BENCHMARKS[name])
        print(f"-- {name}: {module.TITLE} …", flush=True)
        started, meter = time.monotonic(), CpuMeter().start()
        result: Result = module.run(options)
        result.seconds = time.monotonic() - started
        result.machine_load = meter.stop()
        result.code = machine["code"]
        save(result)
        results.append(result)
        print(render(result), flush=True)
    if len(results) > 1:
        print("\n== summary")
        for result in results:
            for verdict in result.verdicts:
                mark = "MET    " if verdict.met else "NOT MET"
                print(f"   [{mark}] {result.name}: {verdict.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
