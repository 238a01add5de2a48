"""Italian number words: the value of a single (possibly compound) word such as "quarantacinque" or "duemila"."""

from __future__ import annotations

import re

IT_UNITS: dict[str, int] = {
    "uno": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7, "otto": 8, "nove": 9,
}
IT_TEENS: dict[str, int] = {
    "dieci": 10, "undici": 11, "dodici": 12, "tredici": 13, "quattordici": 14, "quindici": 15,
    "sedici": 16, "diciassette": 17, "diciotto": 18, "diciannove": 19,
}
IT_TENS: dict[str, int] = {
    "venti": 20, "trenta": 30, "quaranta": 40, "cinquanta": 50,
    "sessanta": 60, "settanta": 70, "ottanta": 80, "novanta": 90,
}


def _below_100_words() -> dict[str, int]:
    """Every spelling of 1..99 as one word, with the usual elisions (ventuno, trentotto, ventitré)."""
    words: dict[str, int] = {**IT_UNITS, **IT_TEENS, **IT_TENS}
    for tens_word, tens in IT_TENS.items():
        for unit_word, unit in IT_UNITS.items():
            if unit_word in ("uno", "otto"):
                words[tens_word[:-1] + unit_word] = tens + unit
                words[tens_word + unit_word] = tens + unit  # tolerated non-elided spelling
            elif unit_word == "tre":
                words[tens_word + "tré"] = tens + unit
                words[tens_word + "tre"] = tens + unit
                words[tens_word + "trè"] = tens + unit
            else:
                words[tens_word + unit_word] = tens + unit
    return words


def _below_1000_words() -> dict[str, int]:
    """Every spelling of 1..999 as one word ("centottanta", "duecentoquaranta", "novecentonovantanove")."""
    small = _below_100_words()
    words = dict(small)
    for hundreds in range(1, 10):
        prefix = "cento" if hundreds == 1 else next(w for w, v in IT_UNITS.items() if v == hundreds) + "cento"
        words[prefix] = hundreds * 100
        for rest_word, rest in small.items():
            words[prefix + rest_word] = hundreds * 100 + rest
            if rest_word.startswith("ott"):  # centottanta, centotto
                words[prefix[:-1] + rest_word] = hundreds * 100 + rest
    return words


_BELOW_1000 = _below_1000_words()
_THOUSANDS = re.compile(r"^(?:(?P<mult>[a-zàèéìòù]+?)mila|mille)(?P<rest>[a-zàèéìòù]*)$")


def italian_word_value(word: str) -> int | None:
    """The value of one Italian number word ("quarantacinque" → 45, "duemilatrecento" → 2300), or None."""
    word = word.lower()
    if word in _BELOW_1000:
        return _BELOW_1000[word]
    match = _THOUSANDS.match(word)
    if match is None:
        return None
    mult_word, rest_word = match.group("mult"), match.group("rest")
    if mult_word is None:
        mult = 1
    else:
        found = _BELOW_1000.get(mult_word)
        if found is None or found < 2:
            return None
        mult = found
    rest = 0
    if rest_word:
        rest_word = rest_word[1:] if rest_word.startswith("e") and rest_word[1:] in _BELOW_1000 else rest_word
        found_rest = _BELOW_1000.get(rest_word)
        if found_rest is None:
            return None
        rest = found_rest
    return mult * 1000 + rest
