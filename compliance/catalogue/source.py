"""Read catalogue YAML with the line of every value: the only module that imports yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


# libyaml's parser when PyYAML was built with it: about 60 times faster than the pure-Python
# one, which took most of a 100k-obligation load (bench/search.py). Same nodes, same marks.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CatalogueLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps dates as text, so a bad date is reported, not a crash.

    The schema checks the text with date.fromisoformat; the loader converts it afterwards.
    """


_CatalogueLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class SourceProblem:
    line: int
    message: str


@dataclass
class SourceDocument:
    """One parsed file: its data, the line of each value by path, and structural problems."""

    path: Path
    data: Any = None
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of the value at path, or of its nearest ancestor that has one."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)


def read_plain(path: Path) -> Any:
    """Parse a trusted YAML data file shipped with the app (no line tracking, safe loader)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def read_document(path: Path) -> SourceDocument:
    """Parse one YAML file; syntax errors and duplicate keys become problems with lines."""
    document = SourceDocument(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        document.problems.append(SourceProblem(1, f"cannot read file: {error}"))
        return document
    loader = _CatalogueLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(error, "problem", None) or str(error)
        document.problems.append(SourceProblem(line, f"YAML syntax error: {reason}"))
        return document
    finally:
        loader.dispose()
    if node is not None:
        document.data = _build(loader, node, (), document)
    if document.data is None:  # no document at all, or one that is only "---" or "~"
        document.problems.append(SourceProblem(1, "the file is empty"))
    return document


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, doc: SourceDocument) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                doc.problems.append(
                    SourceProblem(key_node.start_mark.line + 1, f"duplicate key '{key}'")
                )
            result[key] = _build(loader, value_node, (*path, key), doc)
            doc.lines[(*path, key)] = key_node.start_mark.line + 1  # report at the key's line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node)
