"""Evaluation of trackers on synthetic scenes and benchmarks: metrics, baselines, reports."""
