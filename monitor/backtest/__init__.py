"""Backtests: stored calls re-scored with a candidate rule pack set, and the diff against their stored outcomes."""
