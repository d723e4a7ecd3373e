"""The query parser: syntax, synonyms, aliases, places, citations, and text it must survive."""

from __future__ import annotations

import pytest

from compliance.search.index import analyse
from compliance.search.query import (
    MAX_QUERY_CHARS,
    Instrument,
    Phrase,
    Place,
    Synonyms,
    Vocabulary,
    Word,
    parse,
    with_corrections,
)


@pytest.fixture(scope="module")
def vocabulary():
    return Vocabulary.build(
        analyse,
        aliases={"eu-dsa": ["Digital Services Act", "DSA"], "gb-osa": ["OSA", "Online Safety Act"]},
        jurisdictions={"GB": "United Kingdom", "US": "United States", "US-CA": "California"},
    )


def only(query):
    assert len(query.groups) == 1 and len(query.groups[0]) == 1, query.groups
    return query.groups[0][0]


def test_words_are_each_required(vocabulary):
    query = parse("illegal content", vocabulary)

    assert query.groups == ((Word("illegal", 0),), (Word("content", 8),))


def test_phrase_prefix_fuzzy_or_and_not(vocabulary):
    text = '"risk assessment" moderat* platfrom~ widgets OR gadgets -search'
    query = parse(text, vocabulary)

    assert query.groups[0] == (Phrase(("risk", "assessment")),)
    assert query.groups[1] == (Word("moderat", text.index("moderat"), prefix=True),)
    assert query.groups[2] == (Word("platfrom", text.index("platfrom"), fuzzy=2),)
    assert query.groups[3] == (
        Word("widgets", text.index("widgets")),
        Word("gadgets", text.index("gadgets")),
    )
    assert query.excluded == (Word("search", text.index("search")),)


def test_synonyms_expand_to_their_group(vocabulary):
    clause = only(parse("age verification", vocabulary))

    assert isinstance(clause, Synonyms)
    assert "age assurance" in clause.options
    assert clause.typed == "age verification"


def test_word_endings_do_not_stop_a_synonym_matching(vocabulary):
    assert isinstance(only(parse("Trusted Flaggers", vocabulary)), Synonyms)


def test_an_alias_names_its_instrument(vocabulary):
    clause = only(parse("Digital Services Act", vocabulary))

    assert clause == Instrument(("eu-dsa",), "Digital Services Act")
    assert parse("DSA", vocabulary).instruments == ("eu-dsa",)


def test_places_rank_rather_than_require(vocabulary):
    query = parse("age verification UK", vocabulary)

    assert query.places == ("GB",)
    assert len(query.groups) == 1  # UK itself need not appear in the text


def test_a_place_alone_is_what_is_asked_for(vocabulary):
    assert only(parse("California", vocabulary)) == Place(("US-CA",))


def test_codes_count_only_in_capitals(vocabulary):
    assert parse("CSAM reporting US", vocabulary).places == ("US",)
    assert parse("let us report", vocabulary).places == ()


def test_citations_are_scoped_by_the_instrument_beside_them(vocabulary):
    query = parse("Art. 16(1) DSA", vocabulary)

    assert query.citations == (("art:16.1", "art:16"),)
    assert query.instruments == ("eu-dsa",)


def test_a_citation_that_is_an_alias_is_the_instrument():
    vocabulary = Vocabulary.build(analyse, aliases={"us-section-230": ["Section 230"]})

    query = parse("section 230", vocabulary)

    assert query.citations == ()
    assert query.instruments == ("us-section-230",)


def test_known_fields_filter_and_unknown_ones_become_words(vocabulary):
    query = parse("jurisdiction:gb topic:minors colour:blue", vocabulary)

    assert query.filters == {"jurisdiction": ("GB",), "topic": ("minors",)}
    assert [w.text for w in query.words()] == ["colour", "blue"]
    assert any("no field 'colour'" in notice for notice in query.notices)


def test_the_owner_team_is_not_a_field(vocabulary):
    query = parse("team:Policy", vocabulary)

    assert "team" not in query.filters
    assert query.notices


@pytest.mark.parametrize("text", ["", "   ", "*"])
def test_nothing_to_look_for_lists_everything(vocabulary, text):
    assert parse(text, vocabulary).match_all


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced quote',
        "((((age",
        "(" * 5000 + "age" + ")" * 5000,
        "]] [[ {{ }",
        "field: : :: ::",
        "\x00\x01\x1b[31mred\x7f",
        "возраст проверка",
        "年齢確認 情報流通",
        "التحقق من العمر",
        "-",
        "OR OR AND NOT",
        "~~~ *** ***",
    ],
)
def test_any_text_parses(vocabulary, text):
    query = parse(text, vocabulary)

    assert query.text is not None


def test_long_queries_are_cut_with_a_notice(vocabulary):
    query = parse("a" * 100_000, vocabulary)

    assert len(query.text) <= MAX_QUERY_CHARS
    assert any("cut" in notice for notice in query.notices)


def test_control_characters_are_dropped_with_a_notice(vocabulary):
    query = parse("age\x00\x07 assurance", vocabulary)

    assert "\x00" not in query.text
    assert any("Control characters" in notice for notice in query.notices)


def test_an_unpaired_quote_is_ignored_with_a_notice(vocabulary):
    query = parse('"notice and action', vocabulary)

    assert query.groups
    assert any("quotation mark" in notice for notice in query.notices)


def test_many_words_are_capped(vocabulary):
    query = parse(" ".join(f"word{n}" for n in range(200)), vocabulary)

    assert len(query.groups) == 24
    assert query.notices


def test_corrections_replace_the_misspelt_words(vocabulary):
    query = parse("trusted flagers report", vocabulary)
    words = {word.text: word.start for word in query.words()}

    assert with_corrections(query, {words["report"]: "reports"}) == "trusted flagers reports"


def test_a_one_letter_prefix_is_refused_with_a_notice(vocabulary):
    query = parse("a* notice", vocabulary)

    assert [word.text for word in query.words()] == ["notice"]
    assert any("prefix needs 2 letters" in notice for notice in query.notices)
