"""Callwarden's application: call sessions, alert sinks, metrics, storage, web and the CLI."""
