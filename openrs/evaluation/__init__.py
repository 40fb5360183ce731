"""Evaluation: benchmarks, k-sample statistics, checkpoint curves and the paper's Table 2."""
