"""Evaluation: statistics over sampled completions (pass@k, maj@k, bootstrap intervals, paired comparisons)."""
