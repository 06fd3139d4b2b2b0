"""Tracking spec updates without regeneration: diff, usage check, overlays, lint.

    from dynclient.evolve.diff import diff
    changes = diff(Spec("openai@2025-04-29"), Spec("openai@2026-08-21"))
"""
