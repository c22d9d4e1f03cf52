"""Every word list of the detector, loaded once at import from `lexicons/*.toml` (see `lexicon.py` for the checks).

The names here are the lists as the logic uses them; what each list means is said next to it in its file.
"""

from __future__ import annotations

from collections.abc import Collection

from functions.common.record import Industry

from .lexicon import ID_PATTERN, Lexicon


def _grouped_word_sets(groups: list[Lexicon], known: Collection[str], what: str) -> dict[str, frozenset[str]]:
    """`[[key]]` groups of `keywords` that share one list of `words`, as keyword -> words."""
    sets: dict[str, frozenset[str]] = {}
    for group in groups:
        keywords, words = group.words("keywords"), group.words("words")
        group.subset("keywords", keywords, known, what)
        group.close()
        sets |= dict.fromkeys(keywords, words)
    return sets


# --- numbers.toml ----------------------------------------------------------------------------------------------
_numbers = Lexicon.load("numbers")
UNITS = _numbers.numbers("units")
TENS = _numbers.numbers("tens")
VAGUE = _numbers.numbers("vague")
PLURAL_SCALES = _numbers.numbers("plural_scales")
SCALES = _numbers.numbers("scales")
RANGE_WORDS = _numbers.words("range_words")
ARTICLE_STARTS = _numbers.words("article_starts")
LABEL_WORDS = _numbers.words("labels")
AFTER_NUMBER = _numbers.words("after_number")
APPROXIMATORS = _numbers.words("approximators")
OTHER_NOUNS = _numbers.words("other_nouns")
FUNCTION_WORDS = _numbers.words("function_words")
CORRECTIONS = _numbers.phrases("corrections")
_numbers.close()

# --- rates.toml ------------------------------------------------------------------------------------------------
_rates = Lexicon.load("rates")
RATE_UNITS = {word: per_year / 12 for word, per_year in _rates.numbers("periods_per_year").items()}
RATE_ADVERBS = {word: per_year / 12 for word, per_year in _rates.numbers("adverbs_per_year").items()}
RATE_LEADS = _rates.words("leads")
RATE_FILLERS = _rates.words("fillers")
BUSINESS_DAY_WORDS = _rates.words("business_day_words")
BUSINESS_DAYS_PER_MONTH = float(_rates.number("business_days_per_month"))
_rates.close()

# --- team.toml -------------------------------------------------------------------------------------------------
_team = Lexicon.load("team").with_slots()
TEAM_NOUNS = _team.words("nouns")
OTHER_PEOPLE = _team.words("other_people")
_team.subset("other_people", OTHER_PEOPLE, TEAM_NOUNS, "a team noun")
TEAM_CONTEXT = _team.words("context")
TEAM_LINKS = _team.words("links") | APPROXIMATORS
SOLO_PHRASES = _team.phrases("solo")
PAIR_PHRASES = _team.phrases("pair")
_team.close()

# --- volume.toml -----------------------------------------------------------------------------------------------
_volume = Lexicon.load("volume")
_documents = _volume.words("documents")
DOC_NOUNS = _documents | frozenset(noun + "'s" for noun in _documents)  # speech-to-text writes "nda's", "pdf's"
COUNT_OF_EXTRA = _volume.words("count_of_extra")
VOLUME_VERBS = _volume.words("verbs")
VOLUME_VERB_SKIPS = _volume.words("verb_skips")
_volume.close()

# --- integrations.toml -----------------------------------------------------------------------------------------
_integrations = Lexicon.load("integrations")
INTEGRATIONS = _integrations.phrase_map("aliases", ID_PATTERN)
NAMED_CRMS = _integrations.words("named_crms")
_integrations.subset("named_crms", NAMED_CRMS, set(INTEGRATIONS.values()), "an integration id")
INTEGRATION_NOT_AFTER = _integrations.word_table("not_after")
_integrations.subset("not_after", INTEGRATION_NOT_AFTER, INTEGRATIONS, "an integration alias")
_integrations.close()

# --- industries.toml -------------------------------------------------------------------------------------------
_industries = Lexicon.load("industries")
INDUSTRY_KEYWORDS = {
    phrase: Industry(name)
    for phrase, name in _industries.phrase_map("keywords", {member.value for member in Industry}).items()
}
ORGANISATION_KEYWORDS = frozenset(_industries.phrases("organisation"))
_industries.subset("organisation", ORGANISATION_KEYWORDS, INDUSTRY_KEYWORDS, "an industry keyword")
INDUSTRY_NOT_BEFORE = _industries.words("not_before")
SHOP_KEYWORDS = _industries.words("shop_keywords")
_industries.subset("shop_keywords", SHOP_KEYWORDS, INDUSTRY_KEYWORDS, "an industry keyword")
SHOP_QUALIFIERS = _industries.words("shop_qualifiers")
SHOP_NOT_BEFORE = _industries.words("shop_not_before")
INDUSTRY_NOT_AFTER = _grouped_word_sets(_industries.tables("not_after"), INDUSTRY_KEYWORDS, "an industry keyword")
INDUSTRY_NOT_BEFORE_BY_KEYWORD = _industries.word_table("not_before_by_keyword")
_industries.subset("not_before_by_keyword", INDUSTRY_NOT_BEFORE_BY_KEYWORD, INDUSTRY_KEYWORDS, "an industry keyword")
_industries.close()

# --- urgency.toml ----------------------------------------------------------------------------------------------
_urgency = Lexicon.load("urgency").with_slots()
URGENCY_PHRASES = _urgency.phrases("phrases")
URGENCY_NEEDS_INTENT = frozenset(_urgency.phrases("needs_intent"))
_urgency.subset("needs_intent", URGENCY_NEEDS_INTENT, URGENCY_PHRASES, "an urgency phrase")
INTENT_WORDS = _urgency.words("intent_words")
NEGATORS = _urgency.words("negators")
NEGATION_SKIPS = _urgency.words("negation_skips")
_urgency.close()
