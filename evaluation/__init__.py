"""Measuring the product rather than running it: corpora, synthesis, offline analysis, eval scores, feeders."""
