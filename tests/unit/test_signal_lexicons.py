"""The detector's lexicon files are well formed, and a broken one stops the import with the file and entry named."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.signals.lexicon import LEXICON_DIR, TOKEN_RE, Lexicon, LexiconError
from functions.common.record import Signals
from functions.common.record_parts import Industry
from tests.unit.test_eval_set import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
LEXICON_FILES = sorted(LEXICON_DIR.glob("*.toml"))
RECORD_ID = re.compile(Signals.model_json_schema()["properties"]["integrations"]["items"]["pattern"])
SLOT = re.compile(r"\{[a-z_]+\}")


def _raw(name: str) -> dict[str, Any]:
    with (LEXICON_DIR / f"{name}.toml").open("rb") as source:
        return tomllib.load(source)


def _string_lists(node: Any, where: str) -> Iterator[tuple[str, list[Any]]]:
    """Every list in a parsed TOML document, with its dotted path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_lists(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        if node and all(isinstance(item, dict) for item in node):
            for position, item in enumerate(node):
                yield from _string_lists(item, f"{where}[{position}]")
        else:
            yield where, node


def _readable_by_tokenizer(phrase: str) -> bool:
    """The tokenizer gives back every character of the phrase, so a lowercased utterance can contain it."""
    text = SLOT.sub("x", phrase)
    tokens = TOKEN_RE.findall(text)
    return bool(tokens) and "".join(tokens) == text.replace(" ", "") and text == " ".join(text.split())


def test_lexicon_files_exist_and_the_detector_reads_them() -> None:
    assert [path.name for path in LEXICON_FILES] == [
        "change.toml",
        "industries.toml",
        "integrations.toml",
        "multipliers.toml",
        "numbers.toml",
        "rates.toml",
        "team.toml",
        "urgency.toml",
        "volume.toml",
    ]


@pytest.mark.parametrize("path", LEXICON_FILES, ids=lambda path: path.name)
def test_every_entry_is_a_distinct_lowercase_phrase_the_tokenizer_produces(path: Path) -> None:
    with path.open("rb") as source:
        document = tomllib.load(source)
    problems = []
    for where, items in _string_lists(document, ""):
        seen: set[str] = set()
        for position, item in enumerate(items):
            if not isinstance(item, str):
                problems.append(f"{where}[{position}] {item!r} is not a string")
            elif item != item.lower():
                problems.append(f"{where}[{position}] {item!r} is not lowercase")
            elif item and not _readable_by_tokenizer(item):
                problems.append(f"{where}[{position}] {item!r} is not made of whole tokens")
            elif item in seen:
                problems.append(f"{where}[{position}] {item!r} is listed twice")
            elif item == "" and not where.startswith("slots."):
                problems.append(f"{where}[{position}] is empty")
            seen.add(str(item))
    assert problems == []


def test_number_tables_map_single_tokens_to_numbers() -> None:
    numbers, rates = _raw("numbers"), _raw("rates")
    tables = {name: numbers[name] for name in ("units", "tens", "vague", "plural_scales", "scales")}
    tables |= {name: rates[name] for name in ("periods_per_year", "adverbs_per_year")}
    for name, table in tables.items():
        for word, value in table.items():
            assert TOKEN_RE.findall(word) == [word], f"{name}.{word}"
            assert type(value) in (int, float) and value >= 0, f"{name}.{word} = {value!r}"


def test_integration_ids_fit_the_session_records_pattern_and_aliases_are_unambiguous() -> None:
    aliases = _raw("integrations")["aliases"]
    assert all(RECORD_ID.fullmatch(name) for name in aliases), sorted(aliases)
    every_alias = [alias for names in aliases.values() for alias in names]
    assert len(every_alias) == len(set(every_alias))


def test_the_detectors_integration_ids_are_the_catalogue_of_the_evaluation_readme() -> None:
    assert set(_raw("integrations")["aliases"]) == CATALOGUE


def test_industry_keywords_are_filed_under_industry_values_and_are_unambiguous() -> None:
    industries = _raw("industries")
    for table in ("keywords", "descriptions"):
        assert set(industries[table]) <= {member.value for member in Industry}, table
    every_phrase = [
        " ".join(TOKEN_RE.findall(SLOT.sub("x", phrase)))
        for table in ("keywords", "descriptions")
        for phrases in industries[table].values()
        for phrase in phrases
    ]
    assert len(every_phrase) == len(set(every_phrase))


def _lexicon_with(tmp_path: Path, name: str, old: str, new: str) -> Lexicon:
    text = (LEXICON_DIR / f"{name}.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / f"{name}.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return Lexicon.load(name, tmp_path)


@pytest.mark.parametrize(
    ("name", "old", "new", "read", "message"),
    [
        ("team", '"people",', '"People",', lambda lex: lex.words("nouns"), "nouns[29] 'People' is not lowercase"),
        ("team", '"people",', '"persons",', lambda lex: lex.words("nouns"), "nouns[31] 'persons' is listed twice"),
        ("team", '"people",', '"sales people",', lambda lex: lex.words("nouns"), "'sales people' is not one token"),
        ("team", '"just me",', '"just me.",', lambda lex: lex.phrases("solo"), "solo[0] 'just me.' is not made of"),
        (
            "team",
            '"me and my {partner}"',
            '"me and my {partners}"',
            lambda lex: lex.with_slots().phrases("pair"),
            "names slot 'partners'",
        ),
        ("numbers", "twelve = 12", 'twelve = "12"', lambda lex: lex.numbers("units"), "units.twelve '12' is not"),
        ("numbers", "labels = [", "label = [", lambda lex: lex.words("labels"), "labels is missing"),
        (
            "industries",
            "hospitality = [",
            "hotels_and_bars = [",
            lambda lex: lex.phrase_map("keywords", {member.value for member in Industry}),
            "keywords.hotels_and_bars is not a known name",
        ),
        (
            "integrations",
            "google_drive = [",
            "google-drive = [",
            lambda lex: lex.phrase_map("aliases", re.compile(r"[a-z0-9_]{1,40}")),
            "aliases.google-drive is not an id",
        ),
        (
            "integrations",
            '"hub spot"',
            '"sales force"',
            lambda lex: lex.phrase_map("aliases", re.compile(r"[a-z0-9_]{1,40}")),
            "'sales force' is also listed under 'salesforce'",
        ),
    ],
)
def test_a_broken_entry_is_reported_with_its_file_and_entry(
    tmp_path: Path, name: str, old: str, new: str, read: Any, message: str
) -> None:
    lexicon = _lexicon_with(tmp_path, name, old, new)
    with pytest.raises(LexiconError) as raised:
        read(lexicon)
    assert f"{name}.toml" in str(raised.value)
    assert message in str(raised.value)
    assert "does not load until it is fixed" in str(raised.value)


def test_a_key_nobody_reads_is_reported(tmp_path: Path) -> None:
    lexicon = _lexicon_with(tmp_path, "volume", "verbs = [", 'verb_skip = ["out"]\nverbs = [')
    for key in ("documents", "count_of_extra", "verbs", "verb_skips", "subject_links"):
        lexicon.words(key)
    with pytest.raises(LexiconError, match=r"volume\.toml: verb_skip is not a key the detector reads"):
        lexicon.close()


def test_a_file_that_is_not_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "rates.toml").write_text('leads = ["a", "per"\n', encoding="utf-8")
    with pytest.raises(LexiconError, match=r"rates\.toml: cannot be read"):
        Lexicon.load("rates", tmp_path)


def test_importing_the_detector_with_a_broken_file_fails_naming_the_file_and_entry(tmp_path: Path) -> None:
    """The whole import path, not one accessor: a copy of the agent package with one bad entry does not load."""
    shutil.copytree(ROOT / "agent", tmp_path / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    broken = tmp_path / "agent" / "signals" / "lexicons" / "industries.toml"
    broken.write_text(broken.read_text(encoding="utf-8").replace('"law firm",', '"law  firm",', 1), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", "import agent.signals"], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "industries.toml: organisation[27] 'law  firm' has leading, trailing or repeated spaces" in result.stderr
