"""Relevance rules: names, acronyms, formal and pinpoint citations, jurisdiction, search."""

from __future__ import annotations

from compliance.feeds.matching import Instrument, Matcher, Suggestion

OSA = Instrument.of(
    regulation_id=1,
    slug="gb-osa",
    short_title="UK Online Safety Act",
    title="Online Safety Act 2023",
    citation="2023 c. 50",
    aliases=["OSA", "Online Safety Act", "Online Safety Act 2023"],
    jurisdictions=("GB",),
    obligations=[(11, "s. 12"), (12, "s. 64")],
)
AU_OSA = Instrument.of(
    regulation_id=2,
    slug="au-online-safety-act-2021",
    short_title="Australia Online Safety Act",
    title="Online Safety Act 2021",
    citation="Act No. 76 of 2021 (Cth)",
    aliases=["Online Safety Act 2021"],
    jurisdictions=("AU",),
    obligations=[],
)
DSA = Instrument.of(
    regulation_id=3,
    slug="eu-dsa",
    short_title="Digital Services Act",
    title="Regulation (EU) 2022/2065 on a Single Market For Digital Services",
    citation="Regulation (EU) 2022/2065",
    aliases=["DSA", "Digital Services Act"],
    jurisdictions=("EU",),
    obligations=[(21, "Art. 16"), (22, "Art. 28(1)"), (23, "Art. 28(4)"), (24, "Arts. 34-35")],
)
COPPA = Instrument.of(
    regulation_id=4,
    slug="us-coppa",
    short_title="COPPA",
    title="Children's Online Privacy Protection Act",
    citation="15 U.S.C. 6501-6506; 16 CFR Part 312",
    aliases=["COPPA"],
    jurisdictions=("US",),
    obligations=[(31, "16 CFR 312.5"), (32, "16 CFR 312.10")],
)
MATCHER = Matcher([OSA, AU_OSA, DSA, COPPA])


def _by_slug(title: str, text: str = "", **options):
    return {m.slug: m for m in MATCHER.match(title, text, **options)}


def test_a_name_in_the_title_matches_with_its_reason():
    found = _by_slug(
        "Ofcom publishes guidance under the Online Safety Act 2023",
        "",
        source_jurisdictions=("GB",),
    )

    osa = found["gb-osa"]
    assert osa.reasons[0] == "mentions 'Online Safety Act 2023' in the title"
    assert osa.score >= 0.7
    assert "au-online-safety-act-2021" not in found  # the longer name wins the span


def test_a_pinpoint_citation_names_the_obligations_it_cites():
    found = _by_slug("Proceedings opened", "The Commission suspects a breach of Art. 28 DSA.")

    dsa = found["eu-dsa"]
    assert "cites Art. 28 DSA" in dsa.reasons
    assert dsa.obligation_ids == [22, 23]  # Art. 28(1) and 28(4), not Art. 16
    assert dsa.score >= 0.9


def test_citations_read_in_either_order_and_in_ranges():
    found = _by_slug("Risk assessment", "Under DSA Article 35 platforms must mitigate risks.")

    assert found["eu-dsa"].obligation_ids == [24]


def test_the_formal_citation_alone_is_enough():
    found = _by_slug("Delegated act under Regulation (EU) 2022/2065 adopted")

    assert found["eu-dsa"].reasons[0] == "cites Regulation (EU) 2022/2065"
    assert found["eu-dsa"].score == 1.0


def test_code_citations_need_no_name():
    found = _by_slug("Rule change", "Amendments to 16 CFR 312.10 on data retention take effect.")

    coppa = found["us-coppa"]
    assert "cites 16 CFR 312.10" in coppa.reasons
    assert coppa.obligation_ids == [32]


def test_short_acronyms_are_case_sensitive():
    assert "eu-dsa" not in _by_slug("Our dsa team is hiring", "the osa said hello")
    assert "eu-dsa" in _by_slug("DSA enforcement update")


def test_words_inside_other_words_do_not_match():
    assert _by_slug("The OSAKA summit and DSAP procedures") == {}


def test_a_name_from_another_jurisdictions_source_counts_for_less():
    local = _by_slug("News", "The Online Safety Act applies.", source_jurisdictions=("GB",))
    foreign = _by_slug("News", "The Online Safety Act applies.", source_jurisdictions=("AU",))

    assert local["gb-osa"].score > foreign["gb-osa"].score
    assert "from a GB source" in local["gb-osa"].reasons
    assert foreign["gb-osa"].reasons[0] == "mentions 'Online Safety Act' (in news from a AU source)"


def test_change_words_add_a_reason():
    found = _by_slug("DSA", "The Commission opens a consultation on the guidelines.")

    assert "announces a change ('consultation')" in found["eu-dsa"].reasons


def test_the_search_index_corroborates_or_suggests_below_the_threshold():
    def search(title: str) -> list[Suggestion]:
        return [Suggestion("us-coppa", "COPPA"), Suggestion("eu-dsa", "DSA")]

    found = _by_slug("Children's privacy rule news", "Something about DSA.", search=search)

    assert found["us-coppa"].score == 0.3  # a candidate for a person to promote, no more
    assert found["us-coppa"].reasons == ["the search index ranks it #1 for the title ('COPPA')"]
    assert "the search index ranks it #2 for the title ('DSA')" in found["eu-dsa"].reasons


def test_nothing_matches_plain_news():
    assert _by_slug("Office closed for the holidays", "We reopen in January.") == {}


def test_typographic_quotes_meet_plain_aliases():
    matcher = Matcher(
        [
            Instrument.of(
                regulation_id=9,
                slug="gb-ico-aadc",
                short_title="Age Appropriate Design Code",
                title="Age appropriate design code",
                citation="DPA 2018 s. 123",
                aliases=["Children's Code"],
                jurisdictions=("GB",),
                obligations=[],
            )
        ]
    )

    assert matcher.match("The Children’s Code turns five", "")[0].slug == "gb-ico-aadc"
