"""Datasets: synthetic generation and loading."""
