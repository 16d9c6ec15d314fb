"""``campusguard report``: a monthly report from the hub's database, written to a file."""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from hub.report.model import ReportError


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The ``report`` subcommand (argparse only: nothing of the hub is imported until it runs)."""
    p = sub.add_parser("report", help="write a monthly report (rates, outages, repairs, alarms, forwarding, findings)")
    p.add_argument("--config", type=Path, default=Path("hub.yaml"), help="hub YAML file")
    p.add_argument("--scope", default="city", help="city, district:<id> or school:<id> (default: city)")
    p.add_argument("--month", required=True, help="YYYY-MM, cut in the scope's time zone")
    p.add_argument("--format", dest="fmt", default="pdf", choices=("pdf", "html", "csv", "xlsx"))
    p.add_argument("--lang", default="zh", choices=("zh", "en"))
    p.add_argument(
        "-o", "--output", type=Path, default=None, help="file to write (default: report-<scope>-<month>.<fmt>)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.auth.cli import open_database
    from hub.report.collect import build
    from hub.report.model import Month, Scope
    from hub.report.render import render
    from hub.settings import SettingsError, load_settings

    try:
        settings = load_settings(args.config)
        scope, month = Scope.parse(args.scope), Month.parse(args.month)
        sessions = open_database(args.config)
        try:
            with sessions() as session:
                report = build(session, settings, scope=scope, month=month, now=datetime.now(UTC))
        finally:
            sessions.kw["bind"].dispose()
    except (SettingsError, ReportError) as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
    output = args.output or Path(f"report-{str(scope).replace(':', '-')}-{month}.{args.fmt}")
    data = render(report, args.fmt, args.lang)
    output.write_bytes(data)
    print(
        f"{output}: {len(data)} bytes, {len(report.schools)} schools, {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}"
    )
    return 0
