"""InsureFlow benchmarks: ``python -m bench`` (or ``make bench``). Never part of the tests.

The runner starts its own Temporal dev server, read model, workers and API on private
ports, measures side by side in one run, and writes the figures as data under
``bench/results/``. What they mean: docs/benchmarks.md.
"""
