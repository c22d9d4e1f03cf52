"""Qualification signals in caller speech: team size, monthly document volume, integrations, urgency, industry.

Pure and I/O free after import, so it runs inline on every final user utterance of a live call and in the Lambda
functions. `detect(text)` reads one utterance; `SignalTracker` merges them over a call.

How it works: the lowercased utterance is split into word, number and symbol tokens by one regular expression
(`lexicon.TOKEN_RE`), then a single left-to-right pass looks each token up in frozen sets and dicts: number
phrases ("twenty five", "30-40", "a couple hundred") are read with their neighbours (the noun after them, the words
before them, a rate such as "a week"; `numbers.py`, `counts.py`), and keywords (integrations, urgency, industry,
"just me") are matched as token sequences (`keywords.py`). Speech-to-text output and typed text go through the same
path, so "Salesforce", "sales force" and "salesforce," are one thing.

Data is not code: every word list is in `lexicons/*.toml`, loaded once at import by `words.py` and checked by
`lexicon.py` (lowercase, one token where one is expected, no duplicates, known ids and industries); the modules
hold only the logic and the few grammar words it treats one by one.

Why nothing can backtrack catastrophically: the only regular expression is the tokenizer, whose alternatives are
disjoint character classes with no nested quantifiers (`\\d+(?:[.,]\\d+)*`, `[a-z]+...`), so it is linear. Every
look-around in the pass is over a bounded number of tokens (at most `numbers.PHRASE_TOKENS` for a number phrase, a
few for context; each module's docstring lists its bounds), and at most `counts.MAX_NUMBER_PHRASES` number phrases
are examined per utterance, so the work is linear in the length of the text with a small constant. The benchmark
runs 100,000-character adversarial utterances (long runs of digits, spaces, hyphens and number words) to keep that
honest.
"""

from .detection import Detection
from .detector import MAX_UTTERANCE_CHARS, SignalTracker, detect

__all__ = ["MAX_UTTERANCE_CHARS", "Detection", "SignalTracker", "detect"]
