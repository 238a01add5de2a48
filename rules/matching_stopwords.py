"""Stopwords left out of the phrase matcher's stem prefilter (English and Italian function words)."""

from __future__ import annotations

STOPWORDS = frozenset({
    "the", "and", "you", "your", "are", "this", "that", "for", "with", "will", "have", "has", "can", "not",
    "our", "all", "may", "was", "were", "been", "being", "would", "could", "should", "what", "about", "from",
    "they", "them", "their", "there", "here", "his", "her", "she", "him", "its", "any", "but", "how", "who",
    "why", "when", "into", "out", "just", "get", "got", "let", "now", "one", "two", "che", "per", "con", "non",
    "una", "uno", "gli", "del", "della", "dei", "delle", "nel", "nella", "sono", "suo", "sua", "suoi", "mio",
    "mia", "miei", "questa", "questo", "come", "piu", "anche", "alla", "alle", "dal", "dalla"
})
