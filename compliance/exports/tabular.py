"""The one module that uses openpyxl: XLSX written in write-only mode, and read for imports.

Reading refuses, before openpyxl parses anything, a file that is not a zip, that unpacks to
more than a set size (a zip bomb: counted in bytes actually inflated, not the sizes the file
declares), that links to other workbooks, or that carries macros; while reading it refuses a
sheet with more rows than allowed. openpyxl parses XML through defusedxml when installed
(it is a dependency), which stops entity-expansion bombs inside the parts.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from compliance.errors import Invalid

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CELL_CHARACTERS = 32_767  # Excel's limit for one cell
_MAX_MEMBERS = 1_000
_MAX_RATIO = 200  # inflated/compressed; real sheets of text stay well below
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Sheet:
    """A sheet to write: its rows are read once, in the order the sheets are listed."""

    title: str
    rows: Iterable[Sequence[Any]]
    header: Sequence[str] = ()
    position: int | None = None  # where the tab goes; None appends it
    width: int = 18  # characters, for every column


def _cell(sheet: WriteOnlyWorksheet, value: Any, *, bold: bool = False) -> Any:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones: UTC
    # openpyxl reads a string starting with "=" as a formula and "#N/A" and its kin as errors;
    # only those need a cell typed as text (a plain value is much cheaper to write).
    typed = isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES)
    if not typed and not bold:
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if typed:
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_workbook(stream: IO[bytes], sheets: Sequence[Sheet]) -> None:
    """Write sheets as an XLSX workbook; rows go to temporary files, not memory."""
    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(spec.title, spec.position)
        if spec.header:
            sheet.freeze_panes = "A2"
            for index in range(1, len(spec.header) + 1):
                sheet.column_dimensions[get_column_letter(index)].width = spec.width
            sheet.append([_cell(sheet, name, bold=True) for name in spec.header])
        count = 0
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
            count += 1
        if spec.header:
            last = get_column_letter(len(spec.header))
            sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    workbook.save(stream)


# -- reading, for imports --------------------------------------------------------------------


def _check_archive(data: bytes, max_unpacked: int) -> None:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise Invalid("The file is not an XLSX workbook (it is not a zip archive).")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if len(members) > _MAX_MEMBERS:
            raise Invalid(f"The workbook has {len(members)} parts; at most {_MAX_MEMBERS}.")
        names = [member.filename for member in members]
        if any(name.lower().startswith("xl/externallinks/") for name in names):
            raise Invalid(
                "The workbook links to other workbooks (external links); remove the links "
                "(Data > Edit Links > Break Link) and save it again."
            )
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise Invalid("The workbook carries macros; save it as a plain .xlsx workbook.")
        declared = sum(member.file_size for member in members)
        if declared > max_unpacked:
            raise Invalid(_too_big(max_unpacked))
        for member in members:
            if member.compress_size and member.file_size / member.compress_size > _MAX_RATIO:
                raise Invalid(
                    f"The workbook's part {member.filename} unpacks {_MAX_RATIO} times larger "
                    "than it is stored: refused as a possible zip bomb."
                )
        # Declared sizes can lie: inflate every part, counting real bytes against the cap.
        inflated = 0
        for member in members:
            with archive.open(member) as part:
                while chunk := part.read(_CHUNK):
                    inflated += len(chunk)
                    if inflated > max_unpacked:
                        raise Invalid(_too_big(max_unpacked))


def _too_big(limit: int) -> str:
    return f"The workbook unpacks to more than {limit:,} bytes: refused as a possible zip bomb."


def read_sheet(
    data: bytes, *, max_rows: int, max_unpacked: int, prefer: str = ""
) -> Iterator[tuple[Any, ...]]:
    """The rows of the sheet named prefer (else the first sheet), header included.

    Refuses a sheet with more than max_rows rows after the header, without reading past it.
    """
    try:
        _check_archive(data, max_unpacked)
    except zipfile.BadZipFile as error:
        raise Invalid(f"The workbook is damaged: {error}.") from error
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign file
        raise Invalid(f"The workbook cannot be read: {error}.") from error
    try:
        sheet = workbook[prefer] if prefer in workbook.sheetnames else workbook.worksheets[0]
        declared = sheet.max_row or 0  # from the sheet's <dimension>, if it has one
        if declared > max_rows + 1:
            raise Invalid(_too_many(declared - 1, max_rows))
        for count, row in enumerate(sheet.iter_rows(values_only=True)):
            if count > max_rows:
                raise Invalid(_too_many(count, max_rows, at_least=True))
            yield tuple(row)
    finally:
        workbook.close()


def _too_many(rows: int, limit: int, *, at_least: bool = False) -> str:
    counted = f"at least {rows:,}" if at_least else f"{rows:,}"
    return f"The sheet has {counted} rows; an import takes at most {limit:,}. Split the file."
