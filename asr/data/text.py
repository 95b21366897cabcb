"""Text normalization shared by the corpus, the tokenizer and WER scoring.

The normalized form is what every transcript, context phrase and hypothesis is
compared in: lowercase ASCII words ``[a-z']+`` separated by single spaces,
numbers spelled out, accents folded ("Zoë Müller" -> "zoe muller"), hyphens and
other punctuation turned into word breaks. Apostrophes inside words are kept
("zoe's"), leading/trailing ones dropped.
"""

import re
import unicodedata

# Letters that NFKD does not decompose into ASCII + combining marks.
_SPECIAL_FOLDS = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o",
    "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d",
    "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ħ": "h",
    "Ħ": "h", "ŋ": "ng", "ſ": "s", "ĸ": "k",
    "’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'",
}

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven",
         "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen",
         "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
         "eighty", "ninety"]


def number_to_words(n: int) -> str:
    """Spells a non-negative integer below one billion in American English.

    >>> number_to_words(1405)
    'one thousand four hundred five'
    """
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for size, word in ((10**6, "million"), (10**3, "thousand")):
        if n >= size:
            if n >= 1000 * size:
                raise ValueError(f"number_to_words supports n < 1e9, got {n}")
            big, rest = divmod(n, size)
            return number_to_words(big) + " " + word + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")


def fold_accents(text: str) -> str:
    """Maps Latin letters with diacritics to ASCII ("Zoë Müller" -> "Zoe Muller")."""
    text = "".join(_SPECIAL_FOLDS.get(c, c) for c in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_NUMBER_RE = re.compile(r"\d+")
_NON_WORD_RE = re.compile(r"[^a-z' ]+")
_SPACES_RE = re.compile(r"\s+")


def normalize_transcript(text: str) -> str:
    """Normalizes free text into the scoring form described in the module docstring.

    >>> normalize_transcript("Call Zoë-Anne O'Brien at 7, 40%!")
    "call zoe anne o'brien at seven forty percent"
    """
    text = fold_accents(text).lower()
    text = text.replace("%", " percent ")
    text = _NUMBER_RE.sub(lambda m: " " + number_to_words(int(m.group())) + " ", text)
    text = _NON_WORD_RE.sub(" ", text)
    words = []
    for w in text.split():
        w = w.strip("'")
        if w:
            words.append(w)
    return " ".join(words)


def words(text: str) -> list[str]:
    """Normalized words of ``text``."""
    return normalize_transcript(text).split()
