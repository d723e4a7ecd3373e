"""`flask catalogue validate`: every problem named as path:line: message, and a non-zero exit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import Result
from flask.testing import FlaskCliRunner

from compliance.catalogue.validation import read_catalogue
from compliance.config import REPOSITORY_ROOT
from tests.conftest import DATA

PROBLEM_LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+): (?P<message>.+)$")


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A writable copy of tests/data/catalogue; problems are reported as catalogue/<file>."""
    root = tmp_path / "catalogue"
    shutil.copytree(DATA / "catalogue", root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def validate(runner: FlaskCliRunner, root: Path) -> Result:
    return runner.invoke(args=["catalogue", "validate", str(root)])


def problems(result: Result) -> list[tuple[str, int, str]]:
    """The path:line: message lines of a failed run, parsed; every other line is a summary."""
    assert result.exit_code == 1, result.output
    found = []
    lines = result.stderr.splitlines()
    assert re.fullmatch(r"\d+ problem\(s\) in \d+ file\(s\)\.", lines[-1]), lines[-1]
    for line in lines[:-1]:
        match = PROBLEM_LINE.match(line)
        assert match, f"not in path:line: message form: {line!r}"
        found.append((match["path"], int(match["line"]), match["message"]))
    return found


def only_problem(result: Result) -> tuple[str, int, str]:
    found = problems(result)
    assert len(found) == 1, found
    return found[0]


def test_test_catalogue_is_valid(runner: FlaskCliRunner, catalogue: Path) -> None:
    result = validate(runner, catalogue)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "OK: 7 files, 2 instruments, 4 obligations, 3 controls, 2 mappings."
    )


def test_shipped_catalogue_is_valid(runner: FlaskCliRunner) -> None:
    result = validate(runner, REPOSITORY_ROOT / "regulations")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: ")


def test_default_directory_is_catalogue_dir(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["catalogue", "validate"])  # CATALOGUE_DIR: tests/data

    assert result.exit_code == 0, result.output
    assert "2 instruments" in result.stdout


def test_missing_directory(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = validate(runner, tmp_path / "nowhere")

    assert result.exit_code == 1
    assert "catalogue directory not found" in result.stderr


def test_yaml_syntax_error(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(
        catalogue / "eu/test-dsa.yaml",
        "summary: A test instrument shaped like the DSA.",
        "summary: A test: instrument shaped like the DSA.",
    )

    path, line, message = only_problem(validate(runner, catalogue))

    assert (path, line) == ("catalogue/eu/test-dsa.yaml", 11)
    assert message.startswith("YAML syntax error: ")


def test_unclosed_flow_sequence(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "gb/test-osa.yaml", "aliases: [OSA]", "aliases: [OSA")

    path, line, message = only_problem(validate(runner, catalogue))

    assert path == "catalogue/gb/test-osa.yaml"
    assert line in (13, 14)  # PyYAML marks the token after the missing bracket
    assert message.startswith("YAML syntax error: ")


def test_unknown_key_at_top_level(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "eu/test-dsa.yaml", "max_penalty:", "colour: blue\nmax_penalty:")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/eu/test-dsa.yaml",
        12,
        "unknown key 'colour'",
    )


def test_unknown_key_in_an_obligation(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(
        catalogue / "gb/test-osa.yaml",
        "    duty: must\n",
        "    duty: must\n    priority: high\n",
    )

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/test-osa.yaml",
        20,
        "unknown key 'priority' (at obligations.0)",
    )


def test_unknown_key_in_a_list_file(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(
        catalogue / "controls.yaml",
        "    owner_team: Policy\n",
        "    owner_team: Policy\n    x: 1\n",
    )

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/controls.yaml",
        14,
        "unknown key 'x' (at controls.1)",
    )


def test_duplicate_obligation_key(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "eu/test-dsa.yaml", "key: art-15", "key: art-16")

    found = problems(validate(runner, catalogue))

    assert (
        "catalogue/eu/test-dsa.yaml",
        24,
        "duplicate obligation key 'art-16' (first at line 16)",
    ) in found
    # The mapping file still names art-15, which is now gone.
    assert (
        "catalogue/mappings/test-dsa.yaml",
        9,
        "unknown obligation 'test-dsa/art-15'",
    ) in found


def test_duplicate_yaml_mapping_key(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "gb/test-osa.yaml", "type: statute\n", "type: statute\ntitle: Again\n")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/test-osa.yaml",
        7,
        "duplicate key 'title'",
    )


def test_duplicate_record_across_list_files(runner: FlaskCliRunner, catalogue: Path) -> None:
    (catalogue / "vocabulary.yaml").write_text(
        "topics:\n  - slug: minors\n    name: Children\n    description: Again.\n",
        encoding="utf-8",
    )

    path, line, message = only_problem(validate(runner, catalogue))

    assert (path, line) == ("catalogue/vocabulary.yaml", 2)
    assert message == "duplicate topic 'minors' (first defined at catalogue/topics.yaml:8)"


@pytest.mark.parametrize(
    ("old", "new", "line", "where"),
    [
        ("adopted: 2022-10-19", "adopted: 2022-13-45", 8, "dates.adopted"),
        ("in_force: 2022-11-16", "in_force: soon", 8, "dates.in_force"),
        ("effective_on: 2024-02-17", "effective_on: 2024-02-30", 38, "obligations.2.effective_on"),
        ("effective_on: 2024-02-17", "effective_on: soon", 38, "obligations.2.effective_on"),
    ],
)
def test_date_that_is_not_a_date(
    runner: FlaskCliRunner, catalogue: Path, old: str, new: str, line: int, where: str
) -> None:
    edit(catalogue / "eu/test-dsa.yaml", old, new)
    value = new.split(": ")[1]

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/eu/test-dsa.yaml",
        line,
        f"'{value}' is not a valid date (use YYYY-MM-DD) (at {where})",
    )


def test_dates_out_of_order(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "eu/test-dsa.yaml", "in_force: 2022-11-16", "in_force: 2021-11-16")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/eu/test-dsa.yaml",
        8,
        "in_force is before adopted",
    )


def test_mapping_to_missing_control(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "mappings/test-dsa.yaml", "control: TS-NA-01", "control: TS-XX-99")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/mappings/test-dsa.yaml",
        3,
        "unknown control 'TS-XX-99'",
    )


def test_mapping_to_missing_obligation(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "mappings/test-dsa.yaml", "test-dsa/art-16", "test-dsa/art-99")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/mappings/test-dsa.yaml",
        2,
        "unknown obligation 'test-dsa/art-99'",
    )


def test_mapping_to_missing_instrument(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "mappings/test-dsa.yaml", "test-dsa/art-15", "nope/art-15")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/mappings/test-dsa.yaml",
        9,
        "unknown obligation 'nope/art-15'",
    )


def test_duplicate_mapping(runner: FlaskCliRunner, catalogue: Path) -> None:
    mappings = catalogue / "mappings/test-dsa.yaml"
    text = mappings.read_text(encoding="utf-8")
    mappings.write_text(text + text.removeprefix("mappings:\n"), encoding="utf-8")

    found = problems(validate(runner, catalogue))

    assert [(path, line) for path, line, _ in found] == [
        ("catalogue/mappings/test-dsa.yaml", 15),
        ("catalogue/mappings/test-dsa.yaml", 22),
    ]
    assert found[0][2] == (
        "duplicate mapping of test-dsa/art-16 to TS-NA-01 "
        "(first defined at catalogue/mappings/test-dsa.yaml:2)"
    )


def test_unknown_topic_on_instrument_and_obligation(
    runner: FlaskCliRunner, catalogue: Path
) -> None:
    osa = catalogue / "gb/test-osa.yaml"
    edit(osa, "topics: [age-assurance]", "topics: [age-assurance, gambling]")
    edit(osa, "topics: [minors, age-assurance]", "topics:\n      - minors\n      - loot-boxes")

    assert problems(validate(runner, catalogue)) == [
        ("catalogue/gb/test-osa.yaml", 12, "unknown topic 'gambling'"),
        ("catalogue/gb/test-osa.yaml", 22, "unknown topic 'loot-boxes'"),
    ]


def test_unknown_jurisdiction_and_regulator(runner: FlaskCliRunner, catalogue: Path) -> None:
    osa = catalogue / "gb/test-osa.yaml"
    edit(osa, "jurisdiction: GB", "jurisdiction: FR")
    edit(osa, "regulator: ofcom", "regulator: arcom")

    assert problems(validate(runner, catalogue)) == [
        ("catalogue/gb/test-osa.yaml", 5, "unknown jurisdiction 'FR'"),
        ("catalogue/gb/test-osa.yaml", 9, "unknown regulator 'arcom'"),
    ]


def test_regulator_in_unknown_jurisdiction(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(catalogue / "regulators.yaml", "jurisdiction: GB", "jurisdiction: IE")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/regulators.yaml",
        8,
        "unknown jurisdiction 'IE'",
    )


def test_unknown_jurisdiction_in_user_threshold(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(
        catalogue / "eu/test-dsa.yaml",
        "applies_when: {service: [hosting]}",
        "applies_when: {service: [hosting], users: {DE: {at_least: 10}}}",
    )

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/eu/test-dsa.yaml",
        21,
        "unknown jurisdiction in users 'DE'",
    )


@pytest.mark.parametrize(
    ("line_text", "line", "message"),
    [
        ("citation: 2023 c. 50\n", 1, "'citation' is required"),
        ("url: https://www.legislation.gov.uk/ukpga/2023/50\n", 1, "'url' is required"),
        (
            "    source_url: https://www.legislation.gov.uk/ukpga/2023/50/section/12\n",
            15,
            "'source_url' is required (at obligations.0)",
        ),
    ],
)
def test_missing_required_field(
    runner: FlaskCliRunner, catalogue: Path, line_text: str, line: int, message: str
) -> None:
    edit(catalogue / "gb/test-osa.yaml", line_text, "")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/test-osa.yaml",
        line,
        message,
    )


def test_wrong_vocabulary_values(runner: FlaskCliRunner, catalogue: Path) -> None:
    osa = catalogue / "gb/test-osa.yaml"
    edit(osa, "status: partly-in-force", "status: mostly-in-force")
    edit(osa, "duty: must", "duty: shall")

    found = problems(validate(runner, catalogue))

    assert [(line, message.split(" is not one of")[0]) for _, line, message in found] == [
        (7, "'mostly-in-force'"),
        (19, "'shall'"),
    ]


@pytest.mark.parametrize("content", ["", "# only a comment\n", "---\n"])
def test_empty_file(runner: FlaskCliRunner, catalogue: Path, content: str) -> None:
    (catalogue / "gb/empty.yaml").write_text(content, encoding="utf-8")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/empty.yaml",
        1,
        "the file is empty",
    )


@pytest.mark.parametrize("content", ["title: Notes\nbody: text\n", "- a\n- b\n", "just text\n"])
def test_file_that_is_not_a_catalogue_file(
    runner: FlaskCliRunner, catalogue: Path, content: str
) -> None:
    (catalogue / "notes.yaml").write_text(content, encoding="utf-8")

    path, line, message = only_problem(validate(runner, catalogue))

    assert (path, line) == ("catalogue/notes.yaml", 1)
    assert message.startswith("not a catalogue file")


def test_file_that_is_not_utf8(runner: FlaskCliRunner, catalogue: Path) -> None:
    (catalogue / "latin1.yaml").write_bytes("topics: caf\xe9\n".encode("latin-1"))

    path, line, message = only_problem(validate(runner, catalogue))

    assert (path, line) == ("catalogue/latin1.yaml", 1)
    assert message.startswith("cannot read file")


def test_slug_must_match_file_name(runner: FlaskCliRunner, catalogue: Path) -> None:
    (catalogue / "gb/test-osa.yaml").rename(catalogue / "gb/test-osa-2023.yaml")

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/test-osa-2023.yaml",
        1,
        "slug 'test-osa' must match the file name",
    )


def test_malformed_topic_items_are_reported_not_crashed_on(
    runner: FlaskCliRunner, catalogue: Path
) -> None:
    osa = catalogue / "gb/test-osa.yaml"
    edit(osa, "topics: [age-assurance]", "topics: [{name: age}]")
    edit(osa, "topics: [minors, age-assurance]", "topics: [minors, [nested]]")

    found = problems(validate(runner, catalogue))

    assert [line for _, line, _ in found] == [12, 20]


def test_one_bad_control_does_not_hide_the_others(runner: FlaskCliRunner, catalogue: Path) -> None:
    # Only the broken record is reported: mappings to the file's good controls still resolve.
    edit(catalogue / "controls.yaml", "domain: age-assurance", "domain: age-checks")

    path, line, message = only_problem(validate(runner, catalogue))

    assert (path, line) == ("catalogue/controls.yaml", 18)
    assert message.startswith("'age-checks' is not one of")


def test_one_bad_jurisdiction_does_not_hide_the_others(
    runner: FlaskCliRunner, catalogue: Path
) -> None:
    edit(catalogue / "jurisdictions.yaml", "level: national", "level: country")

    assert problems(validate(runner, catalogue)) == [
        (
            "catalogue/jurisdictions.yaml",
            7,
            "'country' is not one of: international, regional, national, subnational, local "
            "(at jurisdictions.1.level)",
        )
    ]


def test_every_problem_of_a_run_is_reported(runner: FlaskCliRunner, catalogue: Path) -> None:
    dsa, osa = catalogue / "eu/test-dsa.yaml", catalogue / "gb/test-osa.yaml"
    edit(dsa, "adopted: 2022-10-19", "adopted: 2022-13-45")
    edit(dsa, "max_penalty:", "colour: blue\nmax_penalty:")
    edit(osa, "regulator: ofcom", "regulator: arcom")
    edit(catalogue / "mappings/test-dsa.yaml", "control: TS-TR-01", "control: TS-XX-99")
    (catalogue / "empty.yaml").write_text("", encoding="utf-8")

    result = validate(runner, catalogue)
    found = problems(result)

    assert [(path, line) for path, line, _ in found] == [
        ("catalogue/empty.yaml", 1),
        ("catalogue/eu/test-dsa.yaml", 8),
        ("catalogue/eu/test-dsa.yaml", 12),
        ("catalogue/gb/test-osa.yaml", 9),
        ("catalogue/mappings/test-dsa.yaml", 10),
    ]
    assert result.stderr.splitlines()[-1] == "5 problem(s) in 8 file(s)."


def test_read_catalogue_collects_what_it_read(catalogue: Path) -> None:
    result = read_catalogue(catalogue)

    assert result.problems == []
    assert set(result.instruments) == {"test-dsa", "test-osa"}
    assert result.obligation_paths() == {
        "test-dsa/art-16",
        "test-dsa/art-15",
        "test-dsa/art-28",
        "test-osa/s-12",
    }
    assert set(result.mappings) == {
        ("test-dsa/art-16", "TS-NA-01"),
        ("test-dsa/art-15", "TS-TR-01"),
    }


def test_duplicate_instrument_slug(runner: FlaskCliRunner, catalogue: Path) -> None:
    (catalogue / "eu/test-osa.yaml").write_text(
        (catalogue / "gb/test-osa.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/gb/test-osa.yaml",
        1,
        "duplicate slug 'test-osa' (first defined at catalogue/eu/test-osa.yaml:1)",
    )


def test_unknown_parent_jurisdiction(runner: FlaskCliRunner, catalogue: Path) -> None:
    edit(
        catalogue / "jurisdictions.yaml",
        "    level: national\n",
        "    level: national\n    parent: DE\n",
    )

    assert only_problem(validate(runner, catalogue)) == (
        "catalogue/jurisdictions.yaml",
        8,
        "unknown parent jurisdiction 'DE'",
    )


def test_feed_references_are_checked(runner: FlaskCliRunner, catalogue: Path) -> None:
    (catalogue / "feeds.yaml").write_text(
        "feeds:\n"
        "  - name: Ofcom news\n"
        "    url: https://www.ofcom.org.uk/feed\n"
        "    regulator: ofcom\n"
        "    jurisdiction: GB\n"
        "    confirmed: true\n"
        "  - name: Arcom news\n"
        "    url: https://www.arcom.fr/feed\n"
        "    regulator: arcom\n"
        "    jurisdiction: FR\n"
        "    confirmed: maybe\n",
        encoding="utf-8",
    )

    found = problems(validate(runner, catalogue))

    assert [(line, message) for _, line, message in found] == [
        (9, "unknown regulator 'arcom'"),
        (10, "unknown jurisdiction 'FR'"),
        (11, "'maybe' is not of type 'boolean' (at feeds.1.confirmed)"),
    ]
