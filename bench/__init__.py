"""The benchmark suite (issue 6): `python -m bench [names…] [--full]`, one module per benchmark.

Each benchmark runs its baseline beside it in the same run and prints ratios; none of them
asserts anything. Figures and the commands that reproduce them are in BENCHMARKS.md.
"""
