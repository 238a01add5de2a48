"""Exports for auditors: every stored call of a date range as CSV and one printable HTML report per call."""
