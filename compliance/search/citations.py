"""Pinpoint citations ("Art. 16(1)", "s. 12(3)(a)", "16 CFR 312.5") as normalised index atoms.

An atom is "<family>:<number>[.<sub>...]", e.g. "art:16.1". A citation yields its own atom and
every parent ("art:16.1.a" also gives "art:16.1" and "art:16"), most specific first, so a query
for a paragraph finds the article and a query for the article finds its paragraphs. The same
grammar reads obligation refs (index side) and user queries (query side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "(1)", "(a)", "(iv)": the bracketed subdivisions after a number.
_SUBPARTS = r"(?P<subs>(?:\s*\(\s*[0-9a-z]{1,5}\s*\))*)"
# A range "-27" or "-(c)" after the first number, as in "Arts. 25-27" or "312.4(b)-(c)".
_RANGE = r"(?:\s*[-–]\s*(?P<to>\d{1,6}[a-z]?|\(\s*[0-9a-z]{1,5}\s*\)))?"
_NUMBER = r"(?P<num>\d{1,6}[a-z]{0,2}(?:\.\d{1,6}[a-z]?){0,3})"

_FAMILIES: tuple[tuple[str, str], ...] = (
    # 16 CFR 312.5, 16 C.F.R. Part 312, 16 CFR § 312.4(b)
    ("cfr", r"\b\d{1,3}\s*c\.?\s?f\.?\s?r\.?\s*(?:part\s*|§+\s*)?"),
    # 18 U.S.C. 2258A(a), 47 USC § 230(c)(1)
    ("usc", r"\b\d{1,3}\s*u\.?\s?s\.?\s?c\.?\s*(?:§+\s*)?"),
    ("art", r"\b(?:articles?|arts?)\.?\s*"),
    ("s", r"(?:\b(?:sections?|secs?|ss?)\.?\s*|§+\s*)"),
    ("para", r"\b(?:paragraphs?|paras?)\.?\s*"),
    ("rule", r"\brules?\s+"),
)
_PATTERNS = tuple(
    (family, re.compile(lead + _NUMBER + _SUBPARTS + _RANGE, re.IGNORECASE))
    for family, lead in _FAMILIES
)
# Code sections with dots or dashes and no family word: "Civ. Code 1798.99.31(a)", "501.1736".
_CODE_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,6}[a-z]?(?:[.\-]\d{1,6}[a-z]?){1,3})(?![\w.])" + _SUBPARTS,
    re.IGNORECASE,
)
# ", (a)(2)" after a citation: another place in the same section.
_LISTED_SUBPARTS = re.compile(r",\s*((?:\(\s*[0-9a-z]{1,5}\s*\)\s*)+)", re.IGNORECASE)
_MAX_RANGE = 50  # "Arts. 1-500" would be a typo; expanding it would flood the index


@dataclass(frozen=True)
class Citation:
    """A citation found in text: where it is and the atoms it stands for."""

    start: int
    end: int
    family: str
    number: str
    atoms: tuple[str, ...]  # most specific first


def _subparts(text: str) -> list[str]:
    return [part.strip().lower() for part in re.findall(r"\(\s*([0-9a-z]{1,5})\s*\)", text, re.I)]


def _chain(family: str, number: str, subs: list[str]) -> list[str]:
    """The atom for number+subs and each of its parents, most specific first."""
    parts = [number.lower(), *subs]
    return [f"{family}:{'.'.join(parts[:n])}" for n in range(len(parts), 0, -1)]


def _expand(family: str, match: re.Match[str]) -> list[str]:
    number, subs, to = match["num"], _subparts(match["subs"] or ""), match["to"]
    atoms = _chain(family, number, subs)
    if family == "cfr" and "." in number:
        atoms.append(f"cfr:{number.split('.')[0].lower()}")  # 312.5 sits in Part 312
    if to and to.isdigit() and number.isdigit() and not subs:
        first, last = int(number), int(to)
        if first < last <= first + _MAX_RANGE:
            for value in range(first + 1, last + 1):
                atoms.append(f"{family}:{value}")
    elif to and to.startswith("("):
        last_sub = _subparts(to)
        if last_sub and subs:
            atoms.extend(_chain(family, number, [*subs[:-1], last_sub[0]])[:1])
    return atoms


def find_citations(text: str) -> list[Citation]:
    """Every citation in text, left to right, without overlaps."""
    found: list[Citation] = []
    taken: list[tuple[int, int]] = []
    for family, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            atoms = _with_aliases(family, match["num"], _expand(family, match))
            taken.append(span)
            found.append(Citation(span[0], span[1], family, match["num"].lower(), atoms))
    for match in _CODE_NUMBER.finditer(text):
        span = match.span()
        if any(span[0] < end and start < span[1] for start, end in taken):
            continue
        atoms = tuple(_chain("num", match["num"], _subparts(match["subs"] or "")))
        taken.append(span)
        found.append(Citation(span[0], span[1], "num", match["num"].lower(), atoms))
    return sorted(found, key=lambda citation: citation.start)


def _with_aliases(family: str, number: str, atoms: list[str]) -> tuple[str, ...]:
    """Add the other families the same place is known by."""
    extra: list[str] = []
    if family in ("cfr", "usc"):
        # People say "section 2258A" as often as "18 U.S.C. 2258A".
        extra += [atom.replace(f"{family}:", "s:", 1) for atom in atoms]
    if family != "art" and "." in number:
        # "312.5" alone, or a state code section, is found whatever family word preceded it.
        extra += [atom.replace(f"{family}:", "num:", 1) for atom in atoms]
    return tuple(dict.fromkeys(atoms + extra))


def ref_atoms(ref: str) -> list[str]:
    """All atoms an obligation's ref stands for, e.g. "Arts. 25-27" gives art:25, art:26, art:27.

    A ref listing several places ("2258A(a)(1)(A), (a)(2)") also yields the later ones,
    read against the number before them.
    """
    atoms: list[str] = []
    for citation in find_citations(ref):
        atoms.extend(citation.atoms)
        tail = ref[citation.end :].split(";")[0]
        for extra in _LISTED_SUBPARTS.finditer(tail):
            chain = _chain(citation.family, citation.number, _subparts(extra.group(1)))
            atoms.extend(_with_aliases(citation.family, citation.number, chain))
    return list(dict.fromkeys(atoms))
