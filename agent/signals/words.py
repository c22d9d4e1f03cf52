"""Every word list of the detector, loaded once at import from `lexicons/*.toml` (see `lexicon.py` for the checks).

The names here are the lists as the logic uses them; what each list means is said next to it in its file.
"""

from __future__ import annotations

from collections.abc import Collection

from functions.common.record import Industry

from .lexicon import ID_PATTERN, Lexicon, tokens_of


def _contexts(table: Lexicon, keys: tuple[str, ...]) -> dict[str, dict[str, frozenset[str]]]:
    """A table of entries to tables of word lists under fixed keys, such as `[ambiguous.box]` of integrations.toml."""
    contexts: dict[str, dict[str, frozenset[str]]] = {}
    for entry in table.names():
        context = table.table(entry)
        contexts[entry] = {key: context.words(key) for key in keys}
        context.close()
    table.close()
    return contexts


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
SELF_WORDS = _team.words("self")
ROLES = _team.words("roles")
FAMILY = _team.words("family")
MEMBER_MODIFIERS = _team.words("member_modifiers")
LIST_FILLERS = _team.words("list_fillers")
LIST_PLACES = _team.words("list_places")
SELF_AFTER = _team.words("self_after")
NOT_TEAM_AFTER = _team.phrases("not_team_after")
_team.close()

# --- volume.toml -----------------------------------------------------------------------------------------------
_volume = Lexicon.load("volume")
_documents = _volume.words("documents")
DOC_NOUNS = _documents | frozenset(noun + "'s" for noun in _documents)  # speech-to-text writes "nda's", "pdf's"
COUNT_OF_EXTRA = _volume.words("count_of_extra")
VOLUME_VERBS = _volume.words("verbs")
VOLUME_VERB_SKIPS = _volume.words("verb_skips")
SUBJECT_LINKS = _volume.words("subject_links")
_volume.close()

# --- change.toml -----------------------------------------------------------------------------------------------
_change = Lexicon.load("change")
PAST_BEFORE = _change.words("past_before")
PAST_AFTER = _change.words("past_after")
CHANGE_VERBS = _change.words("change_verbs")
NOW_MARKERS = _change.words("now_markers")
NOW_PHRASES = _change.phrases("now_phrases")
NOW_LINKS = _change.words("now_links")
_change.close()

# --- multipliers.toml ------------------------------------------------------------------------------------------
_multipliers = Lexicon.load("multipliers")
EACH_WORDS = _multipliers.words("each_words")
PER_WORDS = _multipliers.words("per_words")
EACH_LINKS = _multipliers.words("each_links")
TOTAL_WORDS = _multipliers.words("total_words")
UNIT_NOUNS = _multipliers.words("units")
GROUP_NOUNS = _multipliers.words("groups")
NOT_AFTER_EACH = _multipliers.words("not_after_each")
UNIT_MODIFIERS = _multipliers.words("unit_modifiers")
_multipliers.close()

# --- integrations.toml -----------------------------------------------------------------------------------------
_integrations = Lexicon.load("integrations")
INTEGRATIONS = _integrations.phrase_map("aliases", ID_PATTERN)
NAMED_CRMS = _integrations.words("named_crms")
_integrations.subset("named_crms", NAMED_CRMS, set(INTEGRATIONS.values()), "an integration id")
INTEGRATION_NEGATION_SKIPS = _integrations.words("negation_skips")
INTEGRATION_LEFT_WORDS = _integrations.words("left_words")
INTEGRATION_CHANGE_VERBS = _integrations.words("change_verbs")
INTEGRATION_LEFT_SKIPS = _integrations.words("left_skips")
INTEGRATION_PAST_USE = _integrations.words("past_use")
INTEGRATION_NOT_AFTER = _integrations.word_table("not_after")
_integrations.subset("not_after", INTEGRATION_NOT_AFTER, INTEGRATIONS, "an integration alias")
INTEGRATION_NOT_BEFORE = _integrations.word_table("not_before")
_integrations.subset("not_before", INTEGRATION_NOT_BEFORE, set(INTEGRATIONS.values()), "an integration id")
AMBIGUOUS_INTEGRATIONS = _contexts(_integrations.table("ambiguous"), ("after", "not_after", "before"))
_integrations.subset("ambiguous", AMBIGUOUS_INTEGRATIONS, INTEGRATIONS, "an integration alias")
_integrations.close()

# --- industries.toml -------------------------------------------------------------------------------------------
_industries = Lexicon.load("industries").with_slots()
_INDUSTRY_NAMES = {member.value for member in Industry}
INDUSTRY_KEYWORDS = {
    phrase: Industry(name) for phrase, name in _industries.phrase_map("keywords", _INDUSTRY_NAMES).items()
}
INDUSTRY_DESCRIPTIONS = {
    phrase: Industry(name) for phrase, name in _industries.phrase_map("descriptions", _INDUSTRY_NAMES).items()
}
for _phrase in INDUSTRY_DESCRIPTIONS.keys() & INDUSTRY_KEYWORDS.keys():
    raise _industries.error("descriptions", f"repeat the keyword {_phrase!r}")
# Keywords are compared as their tokens joined by spaces, the way the matcher sees them ("non - profit").
ORGANISATION_KEYWORDS = frozenset(" ".join(tokens_of(phrase)) for phrase in _industries.phrases("organisation"))
_industries.subset(
    "organisation", ORGANISATION_KEYWORDS, INDUSTRY_KEYWORDS.keys() | INDUSTRY_DESCRIPTIONS.keys(), "an industry phrase"
)
INDUSTRY_NOT_BEFORE = _industries.words("not_before")
INDUSTRY_PAST = _industries.words("past_before")
RELATIVES = _industries.words("relatives")
RELATIVE_VERBS = _industries.words("relative_verbs")
CUSTOMER_MARKERS = _industries.words("customer_markers")
CUSTOMER_SKIPS = _industries.words("customer_skips")
WORK_VERBS = _industries.words("work_verbs")
SELL_VERBS = _industries.words("sell_verbs")
CUSTOMER_NOUNS = _industries.words("customer_nouns")
DEPARTMENTS = _industries.words("departments")
_industries.subset("departments", DEPARTMENTS, INDUSTRY_KEYWORDS, "an industry keyword")
DEPARTMENT_VERBS = _industries.words("department_verbs")
INDUSTRY_MEDIA = _industries.words("media")
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
URGENCY_NEEDS_DATE = frozenset(_urgency.phrases("needs_date"))
_urgency.subset("needs_date", URGENCY_NEEDS_DATE, URGENCY_PHRASES, "an urgency phrase")
NEAR_DATES = _urgency.phrases("near_dates")
FAR_DATES = _urgency.phrases("far_dates")
REPLY_WORDS = _urgency.words("reply_words")
URGENCY_PAST_BEFORE = _urgency.words("past_before")
URGENCY_PAST_AFTER = _urgency.words("past_after")
URGENCY_NOT_BEFORE = _urgency.words("not_before")
FEATURE_VERBS = _urgency.words("feature_verbs")
FEATURE_PHRASES = frozenset(_urgency.phrases("feature_phrases"))
_urgency.subset("feature_phrases", FEATURE_PHRASES, URGENCY_PHRASES, "an urgency phrase")
NEGATORS = _urgency.words("negators")
NEGATION_SKIPS = _urgency.words("negation_skips")
_urgency.close()
