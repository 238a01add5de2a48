"""Callwarden's audio edge: wire protocols, codecs and the Vosk adapter, producing `rules` events."""
