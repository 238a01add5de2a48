"""Intent matching: packs declare concepts and patterns; utterances match by their meaning-bearing words."""

from rules.intents.matcher import IntentMatcher
from rules.intents.patterns import Intent, PatternError, check_concepts, compile_intent

__all__ = ["Intent", "IntentMatcher", "PatternError", "check_concepts", "compile_intent"]
