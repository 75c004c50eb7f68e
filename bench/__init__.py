"""InsureFlow benchmarks: ``python -m bench`` (or ``make bench``). Never part of the tests.

The runner starts its own Temporal dev server, read model, worker and API on private ports,
measures side by side in one run, and writes a JSON and a Markdown report under
``bench/results/``. See docs/benchmarks.md.
"""
