"""Callwarden's pure compliance core: events in, findings out; no asyncio, no clock, no I/O."""
