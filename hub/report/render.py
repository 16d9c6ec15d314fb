"""A monthly report as HTML, PDF (WeasyPrint, from the same HTML), CSV or an Excel workbook.

Every format is reproducible: the same report gives the same bytes (no clock, no random ids).
"""

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from hub.report import chart, tables
from hub.report.labels import Words
from hub.report.model import MonthlyReport

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}
FORMATS["xlsx"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # every member of the workbook's zip gets this time: same bytes each run


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    numeric: bool = False
    svg: bool = False
    nowrap: bool = False


def _words(report: MonthlyReport, lang: str) -> Words:
    return Words(lang, ZoneInfo(report.timezone))


def title(report: MonthlyReport, words: Words) -> str:
    who = report.scope_name or words("city")
    return f"{who} {words.month(report.month.year, report.month.month)} {words('title')}"


def _cell(words: Words, fmt: str, value: Any) -> Cell:
    if fmt == "spark":
        return Cell(chart.sparkline(value), svg=True)
    if fmt == "pct":
        return Cell(words.pct(value), numeric=True)
    if fmt == "hours":
        return Cell(words.hours(value), numeric=True)
    if fmt == "dur":
        return Cell(words.duration(value), numeric=True)
    if fmt == "ms":
        return Cell(words.ms(value), numeric=True)
    if fmt == "time":
        return Cell(words.time(value), nowrap=True)
    if fmt == "kind":
        return Cell(words.kind(value))
    if fmt == "word":
        return Cell(words(value), nowrap=True)
    if fmt == "counts":
        return Cell(words.counts(value))
    if fmt == "int":
        return Cell(words("no_data") if value is None else str(value), numeric=True)
    return Cell(str(value))


def _tiles(report: MonthlyReport, words: Words) -> list[tuple[str, str]]:
    f = report.forwarding
    return [
        ("online_rate", words.pct(report.total.online_rate)),
        ("intact_rate", words.pct(report.total.intact_rate)),
        ("camera_intact_rate", words.pct(report.cameras.intact_rate)),
        ("coverage", words.pct(report.total.coverage)),
        ("unknown_h", words.hours(report.total.unknown_s)),
        ("schools", str(len(report.schools))),
        ("devices", str(sum(s.devices for s in report.schools))),
        ("alarms", str(sum(a.raised for a in report.alarms))),
        ("within_2s", f"{f.within_2s} / {f.messages}"),
        ("failing_rules", str(sum(1 for x in report.findings if x.status == "fail"))),
        ("compliance_rate", words.pct(report.kpis.compliance_rate if report.kpis else None)),
        ("networking_rate", words.pct(report.kpis.networking_rate if report.kpis else None)),
    ]


def _repair_tiles(report: MonthlyReport, words: Words) -> list[tuple[str, str]]:
    r = report.repairs
    return [
        ("outages_began", str(r.began)),
        ("repaired_in_time", str(r.repaired_in_time)),
        ("overdue", str(r.overdue)),
        ("still_down", str(r.still_down)),
        ("median_h", words("no_data") if r.median_h is None else f"{r.median_h:.1f}"),
        ("p90_h", words("no_data") if r.p90_h is None else f"{r.p90_h:.1f}"),
    ]


def html(report: MonthlyReport, lang: str = "zh") -> str:
    """The report as one self-contained HTML page (charts inline, no external files)."""
    words = _words(report, lang)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True)
    days = [day for day, _ in report.trend]
    trend = chart.line_chart(
        days,
        [
            (words("online_rate"), "#1f6feb", [t.online_rate for _, t in report.trend]),
            (words("intact_rate"), "#1a7f37", [t.intact_rate for _, t in report.trend]),
        ],
    )
    sections = [t for t in tables.all_tables(report, words) if t.key != "trend"]  # the chart shows the days

    def cells(table: tables.Table, row: Sequence[Any]) -> list[Cell]:
        return [_cell(words, c.fmt, v) for c, v in zip(table.columns, row, strict=True)]

    return env.get_template("monthly.html").render(
        report=report, w=words, title=title(report, words), tiles=_tiles(report, words),
        repair_tiles=_repair_tiles(report, words), chart=trend, tables=sections, cells=cells,
    )  # fmt: skip


def pdf(report: MonthlyReport, lang: str = "zh") -> bytes:
    """The HTML laid out on A4 by WeasyPrint; CJK text needs a CJK font (fonts-wqy-microhei)."""
    import weasyprint  # imported here: it loads Pango, which only the PDF needs

    document = weasyprint.HTML(string=html(report, lang), base_url=str(TEMPLATES))
    return bytes(document.write_pdf())


def _plain(fmt: str, value: Any, words: Words) -> Any:
    """A cell as a number a spreadsheet can sum: rates in percent, hours and seconds as numbers."""
    if value is None:
        return ""
    if fmt == "pct":
        return round(value * 100, 2)
    if fmt == "hours":
        return round(value / 3600, 2)
    if fmt in ("dur", "ms"):
        return round(value, 1)
    if fmt == "time":
        return words.time(value)
    if fmt == "kind":
        return words.kind(value)
    if fmt == "word":
        return words(value)
    if fmt == "counts":
        return words.counts(value)
    return value


def _header(column: tables.Column, words: Words) -> str:
    unit = {"pct": " (%)", "dur": " (s)"}.get(column.fmt, "")
    return words(column.label) + unit


def csv_text(report: MonthlyReport, lang: str = "zh") -> str:
    """One row per school: the table a bureau imports (the workbook has every section)."""
    words = _words(report, lang)
    table = tables.schools(report)
    keep = [n for n, c in enumerate(table.columns) if c.fmt != "spark"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_header(table.columns[n], words) for n in keep])
    for row in table.rows:
        writer.writerow([_plain(table.columns[n].fmt, row[n], words) for n in keep])
    return "\ufeff" + out.getvalue()  # a BOM, so that Excel reads the Chinese as UTF-8


def xlsx(report: MonthlyReport, lang: str = "zh") -> bytes:
    """Every section on a sheet of its own, numbers kept as numbers."""
    from openpyxl import Workbook

    words = _words(report, lang)
    book = Workbook()
    for blank in book.worksheets:  # the workbook starts with an empty sheet
        book.remove(blank)
    formats = {"pct": "0.00", "hours": "0.00", "dur": "0.0", "ms": "0"}
    for table in tables.all_tables(report, words):
        sheet = book.create_sheet(words(table.key)[:31])
        columns = [c for c in table.columns if c.fmt != "spark"]
        sheet.append([_header(c, words) for c in columns])
        for row in table.rows:
            sheet.append([_plain(c.fmt, v, words) for c, v in zip(table.columns, row, strict=True) if c.fmt != "spark"])
        for n, column in enumerate(columns, 1):
            letter = sheet.cell(row=1, column=n).column_letter
            sheet.column_dimensions[letter].width = 14 if column.fmt != "text" else 24
            for cell in sheet[letter][1:]:
                cell.number_format = formats.get(column.fmt, "General")
    stamp = datetime(report.month.year, report.month.month, 1)  # noqa: DTZ001 - workbook metadata, no zone
    book.properties.creator = "CampusGuard"
    book.properties.created = book.properties.modified = stamp
    raw = io.BytesIO()
    book.save(raw)  # which stamps the save time as "modified": _fixed_zip puts the month back
    return _fixed_zip(raw.getvalue(), stamp)


MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _fixed_zip(data: bytes, stamp: datetime) -> bytes:
    """The same workbook with every member's zip time, and its "modified" property, set to fixed values."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = MODIFIED.sub(rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>", content)
            target.writestr(fixed, content)
    return out.getvalue()


def render(report: MonthlyReport, fmt: str, lang: str = "zh") -> bytes:
    """The report in one of FORMATS."""
    if fmt == "html":
        return html(report, lang).encode()
    if fmt == "pdf":
        return pdf(report, lang)
    if fmt == "csv":
        return csv_text(report, lang).encode()
    if fmt == "xlsx":
        return xlsx(report, lang)
    raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
