"""``campusguard compliance import``: school profiles from YAML or CSV files into a running hub.

Every file is read and every school validated first; nothing is sent while anything is wrong, and
the error names the file, the row or field, and the reason. Then each school's profile is saved
through the hub's API (``PUT /api/v1/compliance/profiles/{school}``), which checks it again.
"""

import argparse
import os
import sys
from pathlib import Path

import httpx

from hub.compliance.csvimport import read_csv
from hub.compliance.files import ComplianceFileError, load_profiles, profile_data
from hub.domain.compliance.model import SchoolProfile


def read_files(paths: list[Path]) -> list[SchoolProfile]:
    """Every school of every file; a school in two files is an error (which one would win?)."""
    found: dict[str, tuple[Path, SchoolProfile]] = {}
    for path in paths:
        profiles = read_csv(path) if path.suffix.lower() == ".csv" else load_profiles(path)
        for p in profiles:
            if p.school_id in found:
                raise ComplianceFileError(f"{path}: school {p.school_id} is also in {found[p.school_id][0]}")
            found[p.school_id] = (path, p)
    return [p for _, p in found.values()]


def run(args: argparse.Namespace) -> int:
    """Validate, then save each school's profile in the hub; 0 when all are saved, 2 otherwise."""
    try:
        profiles = read_files(args.files)
        token = (
            args.token_file.read_text(encoding="utf-8").strip() if args.token_file else os.environ["CAMPUSGUARD_TOKEN"]
        )
    except ComplianceFileError as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
    except (OSError, KeyError) as exc:
        print(f"campusguard: no API token (--token-file or CAMPUSGUARD_TOKEN): {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for p in profiles:
            print(f"{p.school_id}\tvalid\t{len(p.points)} devices")
        return 0
    failed = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=30) as client:
        for p in profiles:
            body = profile_data(p)
            try:
                rsp = client.put(f"/api/v1/compliance/profiles/{p.school_id}", json=body)
            except httpx.HTTPError as exc:
                print(f"campusguard: {args.url}: {exc}", file=sys.stderr)
                return 2
            if rsp.status_code == 200:
                print(f"{p.school_id}\tsaved\t{len(p.points)} devices")
            else:
                failed += 1
                detail = rsp.json().get("detail") if rsp.headers.get("content-type") == "application/json" else rsp.text
                print(f"{p.school_id}\trefused\t{rsp.status_code}: {detail}", file=sys.stderr)
    return 2 if failed else 0


def add_parser(compliance: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The ``import`` subcommand of ``campusguard compliance``."""
    cmd = compliance.add_parser("import", help="save school profiles from YAML or CSV files in a running hub")
    cmd.add_argument("files", type=Path, nargs="+", help="profiles files: YAML (schools: [...]) or CSV")
    cmd.add_argument("--url", default="http://127.0.0.1:8080", help="the hub's address")
    cmd.add_argument("--token-file", type=Path, default=None, help="an API token (else $CAMPUSGUARD_TOKEN)")
    cmd.add_argument("--dry-run", action="store_true", help="validate only; send nothing")
    cmd.set_defaults(func=run)
