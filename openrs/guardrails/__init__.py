"""Guardrails: detectors over the metrics of every logged step, and what a run does when one fires.

See docs/GUARDRAILS.md.
"""
