"""Testing helpers for code that uses dynclient: Hypothesis strategies built from the document.

See :mod:`dynclient.testing.strategies` (needs the ``hypothesis`` package, a test extra).
"""
