"""Citations read the same way from obligation refs and from what users type."""

from __future__ import annotations

import pytest

from compliance.search.citations import find_citations, ref_atoms


@pytest.mark.parametrize(
    ("ref", "atoms"),
    [
        ("Art. 16", ["art:16"]),
        ("Art. 16(1)", ["art:16.1", "art:16"]),
        ("Arts. 25-27", ["art:25", "art:26", "art:27"]),
        ("Art. 28a", ["art:28a"]),
        ("s. 12(3)(a)", ["s:12.3.a", "s:12.3", "s:12"]),
        ("ss. 7-9", ["s:7", "s:8", "s:9"]),
        ("paras. 22-23", ["para:22", "para:23"]),
        ("Rule 3(1)(b)", ["rule:3.1.b", "rule:3.1", "rule:3"]),
        ("Codes (U2U), terms of service", []),
    ],
)
def test_refs_become_atoms_with_their_parents(ref, atoms):
    assert ref_atoms(ref) == atoms


def test_a_cfr_section_also_belongs_to_its_part_and_reads_as_a_section():
    atoms = ref_atoms("16 CFR 312.5(a)(1)")

    assert atoms[:4] == ["cfr:312.5.a.1", "cfr:312.5.a", "cfr:312.5", "cfr:312"]
    assert "s:312.5" in atoms
    assert "num:312.5" in atoms


def test_a_ref_listing_several_places_yields_each():
    atoms = ref_atoms("18 U.S.C. 2258A(a)(1)(A), (a)(2)")

    assert "usc:2258a.a.1.a" in atoms
    assert "usc:2258a.a.2" in atoms
    assert "s:2258a" in atoms  # "section 2258A" finds it too


def test_state_code_sections_need_no_family_word():
    assert ref_atoms("Civ. Code 1798.99.31(a)(5)") == [
        "num:1798.99.31.a.5",
        "num:1798.99.31.a",
        "num:1798.99.31",
    ]


@pytest.mark.parametrize(
    ("text", "atoms"),
    [
        ("Art. 16(1) DSA", ("art:16.1", "art:16")),
        ("article 16 of the DSA", ("art:16",)),
        ("s. 12 OSA", ("s:12",)),
        ("section 230", ("s:230",)),
        ("§ 312.5", ("s:312.5", "num:312.5")),
    ],
)
def test_citations_in_queries(text, atoms):
    found = find_citations(text)

    assert len(found) == 1
    assert found[0].atoms[: len(atoms)] == atoms


def test_plain_words_hold_no_citation():
    assert find_citations("age verification UK") == []
    assert find_citations("") == []


def test_an_absurd_range_is_not_expanded():
    assert ref_atoms("Arts. 1-5000") == ["art:1"]
