"""Qualification signals in caller speech: team size, monthly document volume, integrations, urgency, industry.

Pure and I/O free, so it runs inline on every final user utterance of a live call and in the Lambda functions.

How it works: the lowercased utterance is split into word, number and symbol tokens by one regular
expression (`_TOKEN_RE`), then a single left-to-right pass looks each token up in frozen sets and dicts:
number phrases ("twenty five", "30-40", "a couple hundred") are read with their neighbours (the noun
after them, the words before them, a rate such as "a week"), and keywords (integrations, urgency,
industry, "just me") are matched as token sequences. Speech-to-text output and typed text go through
the same path, so "Salesforce", "sales force" and "salesforce," are one thing.

Why nothing can backtrack catastrophically: the only regular expression is the tokenizer, whose
alternatives are disjoint character classes with no nested quantifiers (`\\d+(?:[.,]\\d+)*`, `[a-z]+...`),
so it is linear. Every look-around in the pass is over a bounded number of tokens (at most
`_PHRASE_TOKENS` for a number phrase, a few for context), and at most `MAX_NUMBER_PHRASES` number
phrases are examined per utterance, so the work is linear in the length of the text with a small
constant. The benchmark runs a 100,000-character adversarial utterance (long runs of digits, spaces,
hyphens and number words) to keep that honest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from functions.common.record import Evidence, Industry, Signals

MAX_UTTERANCE_CHARS = 100_000
# Real speech has a handful of numbers per utterance; past this many the rest are not examined.
MAX_NUMBER_PHRASES = 256
MAX_EVIDENCE_TEXT = 200
_PHRASE_TOKENS = 12

_DIGIT_RE = re.compile(r"\d")
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+(?:'[a-z]+)?|[-–%$€£#+/&]")

# --- numbers ---------------------------------------------------------------------------------------------

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
# Vague quantities as a person means them: "a couple hundred" is 200, "hundreds of" at least 200.
_VAGUE = {"couple": 2, "few": 3, "several": 3, "handful": 5}
_PLURAL_SCALES = {"dozens": 24, "hundreds": 200, "thousands": 2000}
_SCALES = {"hundred": 100, "thousand": 1000, "k": 1000, "grand": 1000, "million": 1_000_000}
_RANGE_WORDS = frozenset({"to", "or", "through", "-", "–", "/"})
_NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS)
_NUMBER_START = _NUMBER_WORDS | frozenset(_VAGUE) | frozenset(_PLURAL_SCALES) | {"dozen", "half"}
_NUMBER_CONTINUE = _NUMBER_START | frozenset(_SCALES) | _RANGE_WORDS | {"and", "of", "a"}
_NUMBER_TRIGGERS = _NUMBER_START | {"hundred", "thousand"}
_TRAILING_JOINS = _RANGE_WORDS | {"and", "of", "a"}
_ARTICLE_STARTS = frozenset({"couple", "few", "handful", "dozen", "hundred", "thousand"})
_MAX_DIGITS = 10
# A number right after one of these labels something ("chapter one", "page 5", "number 112"); it counts nothing.
_LABEL_WORDS = frozenset(
    "chapter page number no step version v item level tier option plan section room floor episode zip code extension"
    " ext suite unit apartment apt route grade season".split()
)
_CORRECTION_MARKERS = (("i", "mean"), ("or", "rather"), ("actually",), ("sorry",), ("correction",))
_CORRECTION_FIRST = frozenset(marker[0] for marker in _CORRECTION_MARKERS)

# Words after a number that leave its value alone: "300 or so", "20-ish", "50 plus", "about 40 give or take".
_AFTER_NUMBER_ONE = frozenset({"+", "plus", "ish", "odd", "some", "or so"})
_APPROXIMATORS = frozenset(
    {
        "about",
        "around",
        "roughly",
        "approximately",
        "maybe",
        "like",
        "probably",
        "over",
        "under",
        "nearly",
        "almost",
        "just",
        "only",
        "some",
        "currently",
        "now",
        "basically",
        "at",
        "least",
        "most",
        "than",
        "more",
        "less",
        "close",
        "to",
        "up",
        "somewhere",
        "uh",
        "um",
        "already",
        "still",
        "between",
    }
)
# Nouns that show a number counts something other than people or documents.
_OTHER_NOUNS = frozenset(
    {
        "minute",
        "minutes",
        "min",
        "mins",
        "hour",
        "hours",
        "hr",
        "hrs",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "yr",
        "yrs",
        "second",
        "seconds",
        "percent",
        "%",
        "pm",
        "am",
        "o'clock",
        "oclock",
        "time",
        "times",
        "question",
        "questions",
        "dollar",
        "dollars",
        "bucks",
        "euro",
        "euros",
        "pound",
        "pounds",
        "cent",
        "cents",
        "office",
        "offices",
        "location",
        "locations",
        "call",
        "calls",
        "meeting",
        "meetings",
        "step",
        "steps",
        "page",
        "pages",
        "version",
        "versions",
        "clients",
        "customers",
        "projects",
        "cases",
        "states",
        "countries",
    }
)
_FUNCTION_WORDS = frozenset(
    [
        "we",
        "i",
        "you",
        "they",
        "he",
        "she",
        "it",
        "us",
        "our",
        "my",
        "your",
        "their",
        "and",
        "or",
        "but",
        "to",
        "at",
        "for",
        "in",
        "on",
        "by",
        "from",
        "with",
        "about",
        "that",
        "this",
        "those",
        "these",
        "the",
        "a",
        "an",
        "of",
        "is",
        "are",
        "was",
        "were",
        "be",
        "do",
        "did",
        "have",
        "has",
        "had",
        "per",
        "each",
        "every",
        "not",
        "no",
        "so",
        "then",
        "if",
        "as",
        "we're",
        "i'm",
        "it's",
        "they're",
        "there",
    ]
)
_GAP_BLOCKERS = _OTHER_NOUNS | _FUNCTION_WORDS
_GAP_WORDS = 2

_RATE_UNITS = {
    "day": 365 / 12,
    "days": 365 / 12,
    "week": 52 / 12,
    "weeks": 52 / 12,
    "wk": 52 / 12,
    "month": 1.0,
    "months": 1.0,
    "mo": 1.0,
    "quarter": 1 / 3,
    "year": 1 / 12,
    "yr": 1 / 12,
    "annum": 1 / 12,
}
_RATE_ADVERBS = {
    "daily": 365 / 12,
    "weekly": 52 / 12,
    "monthly": 1.0,
    "quarterly": 1 / 3,
    "yearly": 1 / 12,
    "annually": 1 / 12,
}
_RATE_LEADS = frozenset({"a", "an", "per", "each", "every", "/", "in", "last", "this", "next"})
_BUSINESS_DAY = 21.0
_RATE_FILLERS = frozenset(
    {"or", "so", "give", "take", "on", "average", "roughly", "about", "maybe", "more", "less", "like", "probably"}
)

# --- team size -------------------------------------------------------------------------------------------

_TEAM_NOUNS = frozenset(
    [
        "people",
        "persons",
        "person",
        "folks",
        "guys",
        "employees",
        "employee",
        "staff",
        "staffers",
        "users",
        "user",
        "reps",
        "rep",
        "representatives",
        "agents",
        "agent",
        "seats",
        "seat",
        "members",
        "member",
        "lawyers",
        "lawyer",
        "attorneys",
        "attorney",
        "paralegals",
        "brokers",
        "broker",
        "realtors",
        "salespeople",
        "engineers",
        "developers",
        "recruiters",
        "accountants",
        "advisors",
        "consultants",
        "nurses",
        "doctors",
        "teachers",
        "associates",
        "coworkers",
        "colleagues",
        "heads",
        "ftes",
        "fte",
        "man",
        "woman",
    ]
)
_OTHER_PEOPLE = frozenset({"people", "persons", "folks", "guys"})
_TEAM_CONTEXT = frozenset(
    [
        "team",
        "company",
        "organization",
        "organisation",
        "firm",
        "staff",
        "office",
        "group",
        "practice",
        "agency",
        "business",
        "headcount",
        "crew",
        "department",
        "shop",
        "brokerage",
        "employ",
        "employs",
    ]
)
_TEAM_LINKS = (
    frozenset(["of", "with", "is", "are", "has", "have", "'s", "size", "totals", "total", "includes", "was"])
    | _APPROXIMATORS
)
_TEAM_FOLLOWING_BLOCK = _OTHER_NOUNS  # "our company is 20 years old"

# --- monthly document volume -----------------------------------------------------------------------------

_DOC_NOUNS = frozenset(
    [
        "documents",
        "document",
        "docs",
        "doc",
        "contracts",
        "contract",
        "proposals",
        "proposal",
        "quotes",
        "quote",
        "agreements",
        "agreement",
        "ndas",
        "nda",
        "invoices",
        "invoice",
        "deals",
        "deal",
        "offers",
        "offer",
        "policies",
        "policy",
        "forms",
        "form",
        "envelopes",
        "envelope",
        "leases",
        "lease",
        "letters",
        "letter",
        "statements",
        "statement",
        "applications",
        "application",
        "files",
        "file",
        "pdfs",
        "pdf",
        "estimates",
        "estimate",
        "sows",
        "waivers",
        "waiver",
        "packets",
        "packet",
        "closings",
        "orders",
        "amendments",
        "renewals",
    ]
)
_COUNT_OF_WORDS = frozenset(_PLURAL_SCALES) | frozenset(_VAGUE) | {"dozen", "hundred", "thousand", "lot", "lots"}
_DOC_NOUNS |= frozenset(noun + "'s" for noun in _DOC_NOUNS)  # speech-to-text writes "nda's", "pdf's"
_VOLUME_VERBS = frozenset(
    [
        "send",
        "sending",
        "sent",
        "sign",
        "signing",
        "process",
        "processing",
        "generate",
        "generating",
        "create",
        "creating",
        "draft",
        "drafting",
        "produce",
        "producing",
        "handle",
        "handling",
        "issue",
        "issuing",
        "do",
        "doing",
        "write",
        "writing",
        "prepare",
        "preparing",
        "volume",
        "close",
        "closing",
        "execute",
        "executing",
    ]
)

# --- integrations and industries ---------------------------------------------------------------------

_INTEGRATIONS: dict[str, str] = {
    "salesforce": "salesforce",
    "sales force": "salesforce",
    "sfdc": "salesforce",
    "hubspot": "hubspot",
    "hub spot": "hubspot",
    "pipedrive": "pipedrive",
    "pipe drive": "pipedrive",
    "zoho": "zoho",
    "microsoft dynamics": "dynamics",
    "ms dynamics": "dynamics",
    "dynamics 365": "dynamics",
    "dynamics": "dynamics",
    "zapier": "zapier",
    "zap ier": "zapier",
    "slack": "slack",
    "google drive": "google_drive",
    "gdrive": "google_drive",
    "g drive": "google_drive",
    "dropbox": "dropbox",
    "drop box": "dropbox",
    "quickbooks": "quickbooks",
    "quick books": "quickbooks",
    "qbo": "quickbooks",
    "stripe": "stripe",
    "crm": "crm",
    "c r m": "crm",
    "api": "api",
    "apis": "api",
    "a p i": "api",
    "rest api": "api",
    "webhook": "api",
    "webhooks": "api",
    "web hooks": "api",
    "web hook": "api",
    "embed": "api",
    "embedded": "api",
    "embedding": "api",
    "sdk": "api",
    "programmatic": "api",
    "programmatically": "api",
}
_NAMED_CRMS = frozenset({"salesforce", "hubspot", "pipedrive", "zoho", "dynamics"})
_NAMED_CRMS = frozenset({"salesforce", "hubspot", "pipedrive", "zoho", "dynamics"})

_INDUSTRY_KEYWORDS: dict[str, Industry] = {
    # legal
    "law firm": Industry.LEGAL,
    "law office": Industry.LEGAL,
    "law practice": Industry.LEGAL,
    "legal": Industry.LEGAL,
    "attorney": Industry.LEGAL,
    "attorneys": Industry.LEGAL,
    "lawyer": Industry.LEGAL,
    "lawyers": Industry.LEGAL,
    "paralegal": Industry.LEGAL,
    "paralegals": Industry.LEGAL,
    "litigation": Industry.LEGAL,
    "immigration law": Industry.LEGAL,
    # real estate
    "real estate": Industry.REAL_ESTATE,
    "real estate attorney": Industry.LEGAL,
    "real estate attorneys": Industry.LEGAL,
    "real estate lawyer": Industry.LEGAL,
    "real estate lawyers": Industry.LEGAL,
    "real estate law": Industry.LEGAL,
    "realtor": Industry.REAL_ESTATE,
    "realtors": Industry.REAL_ESTATE,
    "realty": Industry.REAL_ESTATE,
    "property management": Industry.REAL_ESTATE,
    "property manager": Industry.REAL_ESTATE,
    "property managers": Industry.REAL_ESTATE,
    "brokerage": Industry.REAL_ESTATE,
    "title company": Industry.REAL_ESTATE,
    "escrow": Industry.REAL_ESTATE,
    "landlord": Industry.REAL_ESTATE,
    "landlords": Industry.REAL_ESTATE,
    "rental properties": Industry.REAL_ESTATE,
    "homebuilder": Industry.REAL_ESTATE,
    # healthcare
    "healthcare": Industry.HEALTHCARE,
    "health care": Industry.HEALTHCARE,
    "clinic": Industry.HEALTHCARE,
    "clinics": Industry.HEALTHCARE,
    "hospital": Industry.HEALTHCARE,
    "hospitals": Industry.HEALTHCARE,
    "medical": Industry.HEALTHCARE,
    "dental": Industry.HEALTHCARE,
    "dentist": Industry.HEALTHCARE,
    "dentists": Industry.HEALTHCARE,
    "patients": Industry.HEALTHCARE,
    "patient": Industry.HEALTHCARE,
    "pharmacy": Industry.HEALTHCARE,
    "physician": Industry.HEALTHCARE,
    "physicians": Industry.HEALTHCARE,
    "physical therapy": Industry.HEALTHCARE,
    "chiropractic": Industry.HEALTHCARE,
    "veterinary": Industry.HEALTHCARE,
    "vet clinic": Industry.HEALTHCARE,
    "nursing home": Industry.HEALTHCARE,
    "home health": Industry.HEALTHCARE,
    "telehealth": Industry.HEALTHCARE,
    "health system": Industry.HEALTHCARE,
    # finance
    "finance": Industry.FINANCE,
    "financial": Industry.FINANCE,
    "bank": Industry.FINANCE,
    "banking": Industry.FINANCE,
    "credit union": Industry.FINANCE,
    "accounting": Industry.FINANCE,
    "accountants": Industry.FINANCE,
    "accounting firm": Industry.FINANCE,
    "cpa": Industry.FINANCE,
    "cpas": Industry.FINANCE,
    "bookkeeping": Industry.FINANCE,
    "lending": Industry.FINANCE,
    "lender": Industry.FINANCE,
    "loans": Industry.FINANCE,
    "mortgage": Industry.FINANCE,
    "mortgages": Industry.FINANCE,
    "wealth management": Industry.FINANCE,
    "investment firm": Industry.FINANCE,
    "investment bank": Industry.FINANCE,
    "investments": Industry.FINANCE,
    "private equity": Industry.FINANCE,
    "venture capital": Industry.FINANCE,
    "fintech": Industry.FINANCE,
    "tax preparation": Industry.FINANCE,
    "hedge fund": Industry.FINANCE,
    # insurance
    "insurance": Industry.INSURANCE,
    "insurer": Industry.INSURANCE,
    "insurers": Industry.INSURANCE,
    "underwriting": Industry.INSURANCE,
    "underwriters": Industry.INSURANCE,
    "policyholders": Industry.INSURANCE,
    "insurtech": Industry.INSURANCE,
    "insurance brokerage": Industry.INSURANCE,
    "insurance broker": Industry.INSURANCE,
    "insurance agency": Industry.INSURANCE,
    "insurance company": Industry.INSURANCE,
    "insurance firm": Industry.INSURANCE,
    "insurance agent": Industry.INSURANCE,
    # the generic "agency" is most often a marketing or creative one; named kinds of agency beat it
    "agency": Industry.MARKETING,
    "dev tools": Industry.TECHNOLOGY,
    "developer tools": Industry.TECHNOLOGY,
    "devtools": Industry.TECHNOLOGY,
    "developer platform": Industry.TECHNOLOGY,
    "manufacture": Industry.MANUFACTURING,
    "city planning": Industry.GOVERNMENT,
    "planning department": Industry.GOVERNMENT,
    "town of": Industry.GOVERNMENT,
    "township": Industry.GOVERNMENT,
    "local government": Industry.GOVERNMENT,
    "state government": Industry.GOVERNMENT,
    "federal agency": Industry.GOVERNMENT,
    "public agency": Industry.GOVERNMENT,
    "police department": Industry.GOVERNMENT,
    "fire department": Industry.GOVERNMENT,
    "courthouse": Industry.GOVERNMENT,
    # education
    "school": Industry.EDUCATION,
    "schools": Industry.EDUCATION,
    "school district": Industry.EDUCATION,
    "university": Industry.EDUCATION,
    "college": Industry.EDUCATION,
    "education": Industry.EDUCATION,
    "educational": Industry.EDUCATION,
    "edtech": Industry.EDUCATION,
    "students": Industry.EDUCATION,
    "teachers": Industry.EDUCATION,
    "tutoring": Industry.EDUCATION,
    "academy": Industry.EDUCATION,
    "daycare": Industry.EDUCATION,
    "preschool": Industry.EDUCATION,
    # construction
    "construction": Industry.CONSTRUCTION,
    "contractor": Industry.CONSTRUCTION,
    "contractors": Industry.CONSTRUCTION,
    "general contractor": Industry.CONSTRUCTION,
    "subcontractors": Industry.CONSTRUCTION,
    "builders": Industry.CONSTRUCTION,
    "roofing": Industry.CONSTRUCTION,
    "plumbing": Industry.CONSTRUCTION,
    "hvac": Industry.CONSTRUCTION,
    "electrical contractor": Industry.CONSTRUCTION,
    "remodeling": Industry.CONSTRUCTION,
    "landscaping": Industry.CONSTRUCTION,
    "architecture firm": Industry.CONSTRUCTION,
    # technology
    "software": Industry.TECHNOLOGY,
    "saas": Industry.TECHNOLOGY,
    "tech company": Industry.TECHNOLOGY,
    "tech startup": Industry.TECHNOLOGY,
    "tech firm": Industry.TECHNOLOGY,
    "technology": Industry.TECHNOLOGY,
    "it services": Industry.TECHNOLOGY,
    "it company": Industry.TECHNOLOGY,
    "it consultancy": Industry.TECHNOLOGY,
    "managed services provider": Industry.TECHNOLOGY,
    "msp": Industry.TECHNOLOGY,
    "dev shop": Industry.TECHNOLOGY,
    "cybersecurity": Industry.TECHNOLOGY,
    "web development": Industry.TECHNOLOGY,
    "app development": Industry.TECHNOLOGY,
    # manufacturing
    "manufacturing": Industry.MANUFACTURING,
    "manufacturer": Industry.MANUFACTURING,
    "manufacturers": Industry.MANUFACTURING,
    "factory": Industry.MANUFACTURING,
    "factories": Industry.MANUFACTURING,
    "fabrication": Industry.MANUFACTURING,
    "machine shop": Industry.MANUFACTURING,
    "industrial": Industry.MANUFACTURING,
    "production line": Industry.MANUFACTURING,
    # nonprofit
    "nonprofit": Industry.NONPROFIT,
    "non-profit": Industry.NONPROFIT,
    "non profit": Industry.NONPROFIT,
    "not-for-profit": Industry.NONPROFIT,
    "not for profit": Industry.NONPROFIT,
    "charity": Industry.NONPROFIT,
    "charities": Industry.NONPROFIT,
    "ngo": Industry.NONPROFIT,
    "foundation": Industry.NONPROFIT,
    "donors": Industry.NONPROFIT,
    "volunteers": Industry.NONPROFIT,
    # government
    "government": Industry.GOVERNMENT,
    "city of": Industry.GOVERNMENT,
    "county": Industry.GOVERNMENT,
    "municipal": Industry.GOVERNMENT,
    "municipality": Industry.GOVERNMENT,
    "public sector": Industry.GOVERNMENT,
    "federal": Industry.GOVERNMENT,
    "state agency": Industry.GOVERNMENT,
    "government agency": Industry.GOVERNMENT,
    "city council": Industry.GOVERNMENT,
    "city hall": Industry.GOVERNMENT,
    "public works": Industry.GOVERNMENT,
    "department of": Industry.GOVERNMENT,
    # marketing
    "marketing": Industry.MARKETING,
    "marketing agency": Industry.MARKETING,
    "advertising": Industry.MARKETING,
    "ad agency": Industry.MARKETING,
    "digital agency": Industry.MARKETING,
    "creative agency": Industry.MARKETING,
    "branding agency": Industry.MARKETING,
    "pr firm": Industry.MARKETING,
    "pr agency": Industry.MARKETING,
    "public relations": Industry.MARKETING,
    "seo agency": Industry.MARKETING,
    "media agency": Industry.MARKETING,
    # recruiting
    "recruiting": Industry.RECRUITING,
    "recruitment": Industry.RECRUITING,
    "recruiters": Industry.RECRUITING,
    "recruiter": Industry.RECRUITING,
    "staffing": Industry.RECRUITING,
    "staffing agency": Industry.RECRUITING,
    "headhunting": Industry.RECRUITING,
    "headhunter": Industry.RECRUITING,
    "talent acquisition": Industry.RECRUITING,
    "executive search": Industry.RECRUITING,
    "placement agency": Industry.RECRUITING,
    # hospitality
    "hospitality": Industry.HOSPITALITY,
    "hotel": Industry.HOSPITALITY,
    "hotels": Industry.HOSPITALITY,
    "restaurant": Industry.HOSPITALITY,
    "restaurants": Industry.HOSPITALITY,
    "catering": Industry.HOSPITALITY,
    "resort": Industry.HOSPITALITY,
    "resorts": Industry.HOSPITALITY,
    "motel": Industry.HOSPITALITY,
    "bed and breakfast": Industry.HOSPITALITY,
    "event venue": Industry.HOSPITALITY,
    "wedding venue": Industry.HOSPITALITY,
    "travel agency": Industry.HOSPITALITY,
    "bar and grill": Industry.HOSPITALITY,
    "cafe": Industry.HOSPITALITY,
    # retail
    "retail": Industry.RETAIL,
    "retailer": Industry.RETAIL,
    "retailers": Industry.RETAIL,
    "store": Industry.RETAIL,
    "stores": Industry.RETAIL,
    "shop": Industry.RETAIL,
    "boutique": Industry.RETAIL,
    "e-commerce": Industry.RETAIL,
    "ecommerce": Industry.RETAIL,
    "e commerce": Industry.RETAIL,
    "online store": Industry.RETAIL,
    "grocery": Industry.RETAIL,
    "supermarket": Industry.RETAIL,
    "car dealership": Industry.RETAIL,
    "dealership": Industry.RETAIL,
    "furniture store": Industry.RETAIL,
}
_ORGANISATION_KEYWORDS = frozenset(
    {
        "law firm",
        "law office",
        "law practice",
        "brokerage",
        # who the caller is: "a solo lawyer doing real estate closings" is legal
        "lawyer",
        "lawyers",
        "attorney",
        "attorneys",
        "real estate attorney",
        "real estate lawyer",
        "real estate law",
        "insurance brokerage",
        "insurance broker",
        "insurance agency",
        "insurance company",
        "insurance firm",
        "police department",
        "fire department",
        "planning department",
        "title company",
        "clinic",
        "clinics",
        "hospital",
        "hospitals",
        "credit union",
        "bank",
        "accounting firm",
        "school district",
        "university",
        "college",
        "school",
        "schools",
        "general contractor",
        "tech company",
        "tech startup",
        "saas",
        "staffing agency",
        "marketing agency",
        "ad agency",
        "digital agency",
        "creative agency",
        "pr firm",
        "hotel",
        "restaurant",
        "nonprofit",
        "non-profit",
        "non profit",
        "charity",
        "government agency",
        "property management",
        "real estate",
        "dental",
        "manufacturer",
        "insurer",
        "dealership",
        "online store",
        "travel agency",
    }
)

# --- keywords --------------------------------------------------------------------------------------------

_SOLO_PHRASES = (
    "just me",
    "only me",
    "it's just me",
    "solo",
    "solopreneur",
    "sole proprietor",
    "sole proprietorship",
    "sole practitioner",
    "one man band",
    "one man shop",
    "one man show",
    "one-man band",
    "one-man shop",
    "one-man show",
    "by myself",
    "just myself",
    "only myself",
    "myself only",
    "i work alone",
    "me myself and i",
)
_PARTNERS = ("partner", "business partner", "co-founder", "cofounder", "co founder", "wife", "husband")
# "me and one employee", "just me and a paralegal", "me and my sister": the caller plus one person.
_ONE_OTHER = (
    "employee assistant paralegal bookkeeper colleague associate sister brother son daughter mom dad mother father"
    " friend contractor freelancer va helper admin".split()
)
_PAIR_PHRASES = (
    *(
        phrase
        for partner in _PARTNERS
        for phrase in (
            f"me and my {partner}",
            f"my {partner} and i",
            f"my {partner} and me",
            f"my {partner} and myself",
        )
    ),
    *(f"me and {article} {other}" for article in ("my", "one", "a", "an") for other in _ONE_OTHER),
)
_URGENCY_PHRASES = (
    "urgent",
    "urgently",
    "urgency",
    "asap",
    "a s a p",
    "as soon as possible",
    "as soon as we can",
    "as soon as you can",
    "immediately",
    "right away",
    "time sensitive",
    "time-sensitive",
    "deadline",
    "deadlines",
    "hard deadline",
    "this week",
    "expires",
    "expire",
    "expiring",
    "expiration",
    "in a rush",
    "in a hurry",
    "rush",
    "rushed",
    "hurry",
    "need it yesterday",
    "needed it yesterday",
    "as quickly as possible",
    "can't wait",
    "cannot wait",
    "pressing",
    "top priority",
    "up for renewal",
    *(f"renews {when}" for when in ("next week", "next month", "this week", "this month", "soon", "tomorrow")),
    "by eod",
    "by eow",
    "by eom",
    "by next week",
    *(
        f"by {lead}{day}"
        for lead in ("", "this ", "next ")
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    ),
    "by tomorrow",
    "by tonight",
    *(
        f"{lead} {article}end of {article2}{period}"
        for lead in ("by", "before")
        for article in ("", "the ")
        for article2 in ("", "the ", "this ", "next ")
        for period in ("day", "week", "month", "quarter", "year")
    ),
)
_NEGATORS = frozenset(
    [
        "no",
        "not",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "won't",
        "never",
        "nothing",
        "without",
        "zero",
        "nor",
    ]
)
_NEGATION_SKIPS = frozenset(
    [
        "really",
        "real",
        "particular",
        "big",
        "huge",
        "immediate",
        "hard",
        "set",
        "specific",
        "super",
        "that",
        "very",
        "too",
        "in",
        "a",
        "an",
        "the",
        "so",
        "much",
        "of",
        "any",
        "have",
        "has",
        "got",
        "is",
        "are",
        "there",
        "it's",
        "its",
        "strict",
        "firm",
        "actual",
        "major",
        "crazy",
    ]
)
_NEGATION_TOKENS = 5
# Phrases that are urgent only when the caller wants something done in that time.
_URGENCY_NEEDS_INTENT = frozenset({"this week"})
_INTENT_WORDS = frozenset(
    "need needs want wants have has must gotta launch live start starting get go going hoping hope plan planning"
    " ideally should ready set up rollout roll onboard".split()
)


def _tokens_of(phrase: str) -> tuple[str, ...]:
    return tuple(_TOKEN_RE.findall(phrase))


class _PhraseIndex:
    """Token-sequence lookup: phrases grouped by their first token, longest first, so "rest api" beats "api"."""

    def __init__(self, phrases: dict[str, Any]) -> None:
        # Multi-word phrases are keyed on their first two tokens, so a common first word ("by", "a") costs one
        # dict lookup, not a comparison with every phrase that starts with it.
        self._single: dict[str, Any] = {}
        by_pair: dict[tuple[str, str], list[tuple[tuple[str, ...], Any]]] = {}
        for phrase, value in phrases.items():
            tokens = _tokens_of(phrase)
            if len(tokens) == 1:
                self._single[tokens[0]] = value
            else:
                by_pair.setdefault((tokens[0], tokens[1]), []).append((tokens, value))
        self._by_pair = {pair: sorted(entries, key=lambda e: -len(e[0])) for pair, entries in by_pair.items()}
        self.singles = frozenset(self._single)
        self.first_pairs = frozenset(by_pair)
        self.first_tokens = self.singles | frozenset(first for first, _ in self.first_pairs)

    def match_at(self, tokens: list[str], index: int) -> tuple[int, Any] | None:
        """The longest phrase starting at `index`: its length in tokens and its value."""
        if index + 1 < len(tokens) and (entries := self._by_pair.get((tokens[index], tokens[index + 1]))):
            for phrase, value in entries:
                end = index + len(phrase)
                if len(phrase) == 2 or tuple(tokens[index:end]) == phrase:
                    return len(phrase), value
        if tokens[index] in self._single:
            return 1, self._single[tokens[index]]
        return None


_INTEGRATION_INDEX = _PhraseIndex(_INTEGRATIONS)
# "cut me some slack", "pick up the slack", "the stripe on the logo": the word, not the product.
_INTEGRATION_NOT_AFTER = {"slack": frozenset({"some", "the", "any", "of", "more"}), "stripe": frozenset({"a", "the"})}
_INDUSTRY_INDEX = _PhraseIndex(_INDUSTRY_KEYWORDS)
_URGENCY_INDEX = _PhraseIndex(dict.fromkeys(_URGENCY_PHRASES, True))
_TEAM_PHRASE_INDEX = _PhraseIndex({**dict.fromkeys(_SOLO_PHRASES, 1), **dict.fromkeys(_PAIR_PHRASES, 2)})
_INTEGRATION_FIRST = _INTEGRATION_INDEX.first_tokens
_URGENCY_FIRST = _URGENCY_INDEX.first_tokens
_INDUSTRY_FIRST = _INDUSTRY_INDEX.first_tokens
_TEAM_PHRASE_FIRST = _TEAM_PHRASE_INDEX.first_tokens
_KEYWORD_INDEXES = (_INTEGRATION_INDEX, _INDUSTRY_INDEX, _URGENCY_INDEX, _TEAM_PHRASE_INDEX)
_KEYWORD_FIRST_TOKENS = frozenset().union(*(index.first_tokens for index in _KEYWORD_INDEXES))
# Where any phrase can start: a one-token phrase, or the first two tokens of a longer one. Common words begin
# phrases ("a", "i", "in", "it", "need"), and this check spares them the look-ups when the next token fits none.
_KEYWORD_SINGLES = frozenset().union(*(index.singles for index in _KEYWORD_INDEXES))
_KEYWORD_PAIRS = frozenset().union(*(index.first_pairs for index in _KEYWORD_INDEXES))
# A keyword that names the caller's business only in some company: "our lawyer" is a person, "a store" a shop
# while "store documents" is a verb. Token before / after that show the keyword is not about the caller.
_INDUSTRY_NOT_AFTER = {
    keyword: frozenset({"my", "our", "the", "your", "this", "that", "any", "other", "which", "what"})
    for keyword in (
        "lawyer",
        "attorney",
        "accountant",
        "bank",
        "realtor",
        "contractor",
        "dentist",
        "physician",
        "pharmacy",
        "hospital",
    )
}
_INDUSTRY_NOT_AFTER |= {
    keyword: frozenset({"the", "your", "this", "that", "any", "other", "which", "what", "new", "some", "their"})
    for keyword in ("software", "technology")
}
_INDUSTRY_NOT_BEFORE = frozenset(
    [
        "team",
        "department",
        "dept",
        "review",
        "advice",
        "counsel",
        "requirements",
        "reasons",
        "stuff",
        "leave",
        "card",
        "certificate",
        "holiday",
        "line",
        "fair",
        "question",
        "questions",
        "friend",
        "friends",
        "side",
    ]
)
_INDUSTRY_NOT_BEFORE_BY_KEYWORD = {
    "foundation": frozenset({"of", "for"}),
    "school": frozenset({"year", "kid", "kids"}),
    "software": frozenset({"we", "i", "you", "that", "is", "was", "for", "works", "does"}),
}
_SHOP_QUALIFIERS = frozenset(
    [
        "a",
        "our",
        "my",
        "few",
        "of",
        "two",
        "three",
        "four",
        "five",
        "several",
        "clothing",
        "furniture",
        "hardware",
        "grocery",
        "online",
        "shoe",
        "gift",
        "coffee",
        "book",
        "pet",
        "chain",
        "convenience",
        "flower",
        "bike",
        "print",
        "repair",
        "retail",
        "jewelry",
        "jewellery",
        "liquor",
        "wine",
        "toy",
    ]
)
_SHOP_KEYWORDS = frozenset({"store", "stores", "shop"})


@dataclass(slots=True)
class Detection:
    """The signals found in one utterance, with the text that matched each."""

    team_size: int | None = None
    monthly_volume: int | None = None
    integrations: list[str] = field(default_factory=list)
    urgency: str | None = None
    urgency_negated: bool = False
    industry: Industry | None = None
    evidence: list[tuple[str, int | str | None, str]] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        """The CLI's line format: exactly these keys, in this order, null or [] when absent."""
        return {
            "team_size": self.team_size,
            "monthly_volume": self.monthly_volume,
            "integrations": list(self.integrations),
            "urgency": self.urgency,
            "industry": self.industry.value if self.industry else None,
        }


def _joined(tokens: list[str]) -> str:
    return " ".join(tokens).replace(" - ", "-")[:MAX_EVIDENCE_TEXT]


def _digits_value(token: str) -> float | None:
    if token.count(",") and all(len(group) == 3 for group in token.split(",")[1:]):
        token = token.replace(",", "")
    if len(token) > _MAX_DIGITS or "," in token or token.count(".") > 1:
        return None
    return float(token)


def _parse_numbers(tokens: list[str]) -> list[float] | None:
    """Values of a number phrase; a range ("30 to 40", "thirty or forty") yields both ends. None if unreadable."""
    values: list[float] = []
    total = 0.0
    current: float | None = None
    last = ""

    def close() -> None:
        nonlocal total, current, last
        if current is not None or total:
            values.append(total + (current or 0.0))
        total, current, last = 0.0, None, ""

    for token in tokens:
        if token[0].isdigit():
            value = _digits_value(token)
            if value is None:
                return None
            if current is not None or total:
                close()
            current, last = value, "digit"
        elif token in _UNITS:
            value = float(_UNITS[token])
            if last == "tens" and current is not None and value < 10:
                current, last = current + value, "unit"
            elif last in ("unit", "tens", "digit", "vague"):
                close()
                current, last = value, "unit"
            else:
                current, last = (current or 0.0) + value, "unit"
        elif token in _TENS:
            value = float(_TENS[token])
            if last == "unit" and current is not None and 1 <= current <= 9 and not total:
                current, last = current * 100 + value, "tens"  # speech such as "two fifty" for 250
            elif last in ("unit", "tens", "digit", "vague"):
                close()
                current, last = value, "tens"
            else:
                current, last = (current or 0.0) + value, "tens"
        elif token in _VAGUE:
            if last in ("unit", "tens", "digit"):
                close()
            current, last = float(_VAGUE[token]), "vague"
        elif token == "half":
            current, last = 0.5, "half"
        elif token == "dozen":
            current, last = (current or 1.0) * 12, "unit"
        elif token in _PLURAL_SCALES:
            current, last = float(_PLURAL_SCALES[token]), "scale"
        elif token in _SCALES:
            scale = _SCALES[token]
            if scale >= 1000:
                total, current, last = (total + (current if current is not None else 1.0)) * scale, None, "scale"
            else:
                current, last = (current if current is not None else 1.0) * scale, "scale"
        elif token in _RANGE_WORDS or (token == "and" and last != "scale"):
            close()
    close()
    return values or None


def _phrase_value(tokens: list[str]) -> float | None:
    values = _parse_numbers(tokens)
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return (values[0] + values[1]) / 2  # a range: the midpoint of its two ends ("30-40" is 35)


def _number_phrase_end(tokens: list[str], start: int) -> int:
    """Index just past the number phrase that starts at `start` (bounded to `_PHRASE_TOKENS` tokens)."""
    end = start + 1
    limit = min(len(tokens), start + _PHRASE_TOKENS)
    while end < limit:
        token = tokens[end]
        if token[0].isdigit() or token in _NUMBER_CONTINUE:
            if token == "a" and (end + 1 >= len(tokens) or tokens[end + 1] not in _ARTICLE_STARTS):
                break
            end += 1
        else:
            break
    while end > start + 1 and tokens[end - 1] in _TRAILING_JOINS:
        end -= 1
    return end


def _skip_after_number(tokens: list[str], index: int) -> int:
    """Skip "or so", "-ish", "plus", "give or take" after a number."""
    size = len(tokens)
    while index < size:
        token = tokens[index]
        if token in _AFTER_NUMBER_ONE:
            index += 1
        elif (token == "-" and index + 1 < size and tokens[index + 1] == "ish") or (
            token == "or" and index + 1 < size and tokens[index + 1] in ("so", "more", "less")
        ):
            index += 2
        elif token == "give" and tokens[index + 1 : index + 3] == ["or", "take"]:
            index += 3
        else:
            break
    return index


def _noun_after(tokens: list[str], index: int, nouns: frozenset[str]) -> int | None:
    """Index of a noun from `nouns` at `index`, allowing up to two modifier words before it ("sales contracts")."""
    words = 0
    size = len(tokens)
    while index < size:
        token = tokens[index]
        if token in nouns:
            return index
        if token == "-" or token == "&":
            index += 1
            continue
        if words == _GAP_WORDS or token in _GAP_BLOCKERS or not token[0].isalpha():
            return None
        words += 1
        index += 1
    return None


def _rate_at(tokens: list[str], index: int) -> tuple[float, int] | None:
    """A rate ("a month", "per week", "weekly", "each business day") starting at `index`: factor and end index."""
    size = len(tokens)
    if index >= size:
        return None
    token = tokens[index]
    if token in _RATE_ADVERBS:
        return _RATE_ADVERBS[token], index + 1
    if token not in _RATE_LEADS:
        return None
    position = index + 1
    if token == "in" and position < size and tokens[position] == "a":
        position += 1
    if position < size and tokens[position] in ("business", "working", "work"):
        if position + 1 < size and tokens[position + 1] in ("day", "days"):
            return _BUSINESS_DAY, position + 2
        return None
    if position < size and tokens[position] in _RATE_UNITS:
        return _RATE_UNITS[tokens[position]], position + 1
    return None


def _rate_after(tokens: list[str], index: int, reach: int) -> tuple[float, int] | None:
    """The first rate within `reach` tokens after `index`, skipping fillers such as "or so" and "on average"."""
    limit = min(len(tokens), index + reach)
    while index < limit:
        found = _rate_at(tokens, index)
        if found is not None:
            return found
        if tokens[index] not in _RATE_FILLERS and tokens[index] not in _DOC_NOUNS:
            return None
        index += 1
    return None


def _rate_before(tokens: list[str], start: int, reach: int) -> float | None:
    """A rate said before the number: "every week we send about 40 contracts", "monthly we do 200 docs"."""
    for index in range(max(0, start - reach), start):
        found = _rate_at(tokens, index)
        if found is not None and found[1] <= start:
            return found[0]
    return None


def _context_before(tokens: list[str], start: int) -> int | None:
    """Index of a team word before the number ("team of about 12", "headcount is 45"), skipping link words."""
    index = start - 1
    skipped = 0
    while index >= 0 and skipped <= 3:
        token = tokens[index]
        if token in _TEAM_CONTEXT:
            return index
        if token not in _TEAM_LINKS:
            return None
        index -= 1
        skipped += 1
    return None


def _volume_verb_before(tokens: list[str], start: int) -> int | None:
    index = start - 1
    while index >= 0 and start - index <= 4:
        token = tokens[index]
        if token in _VOLUME_VERBS:
            return index
        if token not in _APPROXIMATORS and token not in ("out", "through", "like"):
            return None
        index -= 1
    return None


def _scan_numbers(tokens: list[str], found: Detection) -> None:
    """Read every number phrase with its neighbours; the first team size and first volume in the utterance win."""
    triggers = _NUMBER_TRIGGERS
    # A generator, not a list: the pass stops after MAX_NUMBER_PHRASES, and a 100,000-character run of numbers then
    # leaves the rest of its tokens unread (17 of the 46 ms of "-1" * 50,000 went to listing them all).
    candidates = (i for i, token in enumerate(tokens) if token in triggers or "0" <= token[0] <= "9")
    index = 0
    examined = 0
    for candidate in candidates:
        if candidate < index:
            continue  # inside the phrase just read
        if examined == MAX_NUMBER_PHRASES:
            return
        examined += 1
        index = candidate
        if index and tokens[index - 1] in ("a", "an") and tokens[index] in _ARTICLE_STARTS:
            index -= 1  # "a couple hundred", "a dozen"
        end = _number_phrase_end(tokens, index)
        value = _phrase_value(tokens[index:end])
        if value is None or value <= 0 or (index and tokens[index - 1] in _LABEL_WORDS):
            index = end
            continue
        after = _skip_after_number(tokens, end)
        if found.team_size is None:
            _read_team(tokens, index, after, value, found)
        if found.monthly_volume is None:
            _read_volume(tokens, index, after, value, found)
        if found.team_size is not None and found.monthly_volume is not None:
            return
        index = end


def _previous_word(tokens: list[str], start: int) -> str:
    """The word before a number phrase, skipping approximators ("to like five people" gives "to")."""
    index = start - 1
    while index >= 0 and tokens[index] in _APPROXIMATORS and tokens[index] != "to":
        index -= 1
    return tokens[index] if index >= 0 else ""


def _correction(tokens: list[str], end: int) -> tuple[float, int] | None:
    """A self-correction after a signal: "two hundred employees i mean two hundred and fifty" gives 250."""
    if end >= len(tokens) or tokens[end] not in _CORRECTION_FIRST:
        return None  # most signals are followed by no marker: one set lookup instead of a slice per marker
    for marker in _CORRECTION_MARKERS:
        if tuple(tokens[end : end + len(marker)]) == marker:
            index = end + len(marker)
            while index < len(tokens) and tokens[index] in _APPROXIMATORS:
                index += 1
            if index < len(tokens) and (tokens[index][0].isdigit() or tokens[index] in _NUMBER_START):
                phrase_end = _number_phrase_end(tokens, index)
                value = _phrase_value(tokens[index:phrase_end])
                return (value, phrase_end) if value else None
            return None
    return None


def _read_team(tokens: list[str], start: int, after: int, value: float, found: Detection) -> None:
    size = len(tokens)
    end: int | None = None
    position = after + 1 if after < size and tokens[after] == "-" else after
    noun = _noun_after(tokens, position, _TEAM_NOUNS)
    if noun is not None and tokens[noun] in _OTHER_PEOPLE and _previous_word(tokens, start) == "to":
        return  # "i showed it to five people" are other people; "roll it out to 100 users" are seats
    if noun is not None:
        end = noun + 1
    elif tokens[position : position + 2] == ["of", "us"]:
        end = position + 2
    elif position < size and tokens[position] == "strong":
        end = position + 1
    else:
        context = _context_before(tokens, start)
        following = tokens[after] if after < size else ""
        if context is not None and following not in _TEAM_FOLLOWING_BLOCK and following not in _DOC_NOUNS:
            start, end = context, after
    if end is not None and (corrected := _correction(tokens, end)):
        value, end = corrected
    if end is not None and 1 <= value <= 10_000_000:
        team = round(value)
        found.team_size = team
        found.evidence.append(("team_size", team, _joined(tokens[start:end])))


def _read_volume(tokens: list[str], start: int, after: int, value: float, found: Detection) -> None:
    size = len(tokens)
    position = after
    # "hundreds of ndas", "a couple of contracts"; but "one of the docs" is a part, not a count
    if position < size and tokens[position] == "of" and tokens[after - 1] in _COUNT_OF_WORDS:
        position += 1
        if position < size and tokens[position] in ("our", "the", "those", "these", "them"):
            position += 1
    noun = _noun_after(tokens, position, _DOC_NOUNS)
    factor: float | None
    if noun is not None:
        rate = _rate_after(tokens, noun + 1, 5)
        end = noun + 1
        if rate is not None:
            factor, end = rate
        else:
            factor = _rate_before(tokens, start, 12)
            if factor is None:
                late = _rate_after(tokens, noun + 1, 8)
                factor = late[0] if late else 1.0  # no period said: callers talk about a month
    else:
        rate = _rate_at(tokens, after)
        verb = _volume_verb_before(tokens, start) if rate is not None else None
        if rate is None or verb is None:
            return
        factor, end = rate
        start = verb
    if corrected := _correction(tokens, end):
        value, end = corrected
    monthly = round(value * factor)
    if 0 < monthly <= 1_000_000_000:
        found.monthly_volume = monthly
        found.evidence.append(("monthly_volume", monthly, _joined(tokens[start:end])))


def _scan_keywords(tokens: list[str], present: frozenset[str], found: Detection) -> None:
    """Integrations, urgency, industry and solo/pair team phrases, matched as token sequences."""
    industry: tuple[int, int, Industry, str] | None = None
    team_phrase: tuple[int, str] | None = None
    urgency_seen = False
    last = len(tokens) - 1
    starts = [
        i
        for i, token in enumerate(tokens)
        if token in present and (token in _KEYWORD_SINGLES or (i < last and (token, tokens[i + 1]) in _KEYWORD_PAIRS))
    ]
    for index in starts:
        token = tokens[index]
        if token in _INTEGRATION_FIRST and (hit := _INTEGRATION_INDEX.match_at(tokens, index)):
            name = hit[1]
            previous = tokens[index - 1] if index else ""
            if name not in found.integrations and previous not in _INTEGRATION_NOT_AFTER.get(token, ()):
                found.integrations.append(name)
                found.evidence.append(("integrations", name, _joined(tokens[index : index + hit[0]])))
        if not urgency_seen and token in _URGENCY_FIRST and (hit := _URGENCY_INDEX.match_at(tokens, index)):
            phrase = _joined(tokens[index : index + hit[0]])
            if phrase in _URGENCY_NEEDS_INTENT and _INTENT_WORDS.isdisjoint(tokens[max(0, index - 10) : index]):
                pass  # "i got four emails this week" reports the past; it is not time pressure
            elif _negated(tokens, index):
                found.urgency_negated = True
            else:
                urgency_seen = True
                found.urgency, found.urgency_negated = phrase, False
                found.evidence.append(("urgency", phrase, phrase))
        if token in _INDUSTRY_FIRST and (hit := _INDUSTRY_INDEX.match_at(tokens, index)):
            length, sector = hit
            keyword = " ".join(tokens[index : index + length])
            if _describes_caller(tokens, index, length, keyword):
                rank = 0 if keyword in _ORGANISATION_KEYWORDS else 1
                if industry is None or (rank, index) < industry[:2]:
                    industry = (rank, index, sector, _joined(tokens[index : index + length]))
        # A pair beats "just me" said in the same breath: "just me and a paralegal" is two people.
        if (
            (team_phrase is None or team_phrase[0] == 1)
            and token in _TEAM_PHRASE_FIRST
            and (hit := _TEAM_PHRASE_INDEX.match_at(tokens, index))
            and (team_phrase is None or hit[1] == 2)
        ):
            team_phrase = (hit[1], _joined(tokens[index : index + hit[0]]))
    if "crm" in found.integrations and _NAMED_CRMS.intersection(found.integrations):
        # "our salesforce crm" names the CRM; the generic entry would only repeat it.
        found.integrations.remove("crm")
        found.evidence = [item for item in found.evidence if item[:2] != ("integrations", "crm")]
    if industry is not None:
        found.industry = industry[2]
        found.evidence.append(("industry", industry[2].value, industry[3]))
    # "me and one employee" reads "one employee" as a count of one; the pair phrase is the whole team.
    if team_phrase is not None and (found.team_size is None or (found.team_size == 1 and team_phrase[0] == 2)):
        found.evidence = [item for item in found.evidence if item[0] != "team_size"]
        found.team_size = team_phrase[0]
        found.evidence.append(("team_size", team_phrase[0], team_phrase[1]))


def _negated(tokens: list[str], index: int) -> bool:
    position = index - 1
    while position >= 0 and index - position <= _NEGATION_TOKENS:
        token = tokens[position]
        if token in _NEGATORS or token.endswith("n't"):
            return True
        if token not in _NEGATION_SKIPS:
            return False
        position -= 1
    return False


def _describes_caller(tokens: list[str], index: int, length: int, keyword: str) -> bool:
    before = tokens[index - 1] if index else ""
    after = tokens[index + length] if index + length < len(tokens) else ""
    if keyword in _INDUSTRY_NOT_AFTER and before in _INDUSTRY_NOT_AFTER[keyword]:
        return False
    if keyword in _SHOP_KEYWORDS:
        return before in _SHOP_QUALIFIERS and after not in ("documents", "files", "data", "them", "it", "the")
    if keyword in _ORGANISATION_KEYWORDS:
        return True
    return after not in _INDUSTRY_NOT_BEFORE and after not in _INDUSTRY_NOT_BEFORE_BY_KEYWORD.get(keyword, ())


_NORMALISE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " - ", "\u00a0": " "})


def detect(utterance: str) -> Detection:
    """Detect the signals in one utterance. Pure, no I/O; linear in the length of the text."""
    text = utterance[:MAX_UTTERANCE_CHARS].lower()
    if not text.isascii():  # every character _NORMALISE maps is non-ASCII; isascii() is a flag check, translate a pass
        text = text.translate(_NORMALISE)
    tokens = _TOKEN_RE.findall(text)
    found = Detection()
    if not tokens:
        return found
    # Most utterances hold no number at all: two C-level checks spare them the Python pass.
    if _DIGIT_RE.search(text) or not _NUMBER_TRIGGERS.isdisjoint(tokens):
        _scan_numbers(tokens, found)
    if present := _KEYWORD_FIRST_TOKENS.intersection(tokens):
        _scan_keywords(tokens, present, found)
    return found


class SignalTracker:
    """Merges detections over a call: the latest explicit value wins, and every piece of evidence is kept."""

    def __init__(self) -> None:
        self._team_size: int | None = None
        self._monthly_volume: int | None = None
        self._integrations: list[str] = []
        self._urgency: str | None = None
        self._industry: Industry | None = None
        # Raw tuples on the call path; the pydantic models are built once, with the record.
        self._evidence: list[tuple[str, int | str | None, int, str]] = []

    def observe(self, turn_index: int, text: str) -> Detection:
        """Run the detector on one final user utterance and merge what it found."""
        found = detect(text)
        if found.team_size is not None:
            self._team_size = found.team_size
        if found.monthly_volume is not None:
            self._monthly_volume = found.monthly_volume
        for name in found.integrations:
            if name not in self._integrations:
                self._integrations.append(name)
        if found.urgency is not None:
            self._urgency = found.urgency
        elif found.urgency_negated:
            self._urgency = None  # "actually there's no rush" later in the call is an explicit answer too
        if found.industry is not None:
            self._industry = found.industry
        self._evidence.extend((field_name, value, turn_index, matched) for field_name, value, matched in found.evidence)
        return found

    def to_model(self) -> Signals:
        """The merged signals as the session record's `signals` section."""
        integrations = list(self._integrations)
        if "crm" in integrations and _NAMED_CRMS.intersection(integrations):
            integrations.remove("crm")
        return Signals(
            team_size=self._team_size,
            monthly_volume=self._monthly_volume,
            integrations=integrations,
            urgency=self._urgency,
            industry=self._industry,
            evidence=[
                Evidence.model_validate({"field": name, "value": value, "turn_index": turn, "text": text})
                for name, value, turn, text in self._evidence
            ],
        )
