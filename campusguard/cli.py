"""``campusguard``: one console command with subcommands.

Each subcommand imports its side lazily, so a gateway with only ``campusguard[agent]`` installed never
imports the hub, and the hub never imports agent drivers.
"""

import argparse
import logging
import sys
from pathlib import Path


def _agent(args: argparse.Namespace) -> int:
    from agent.runtime import run_agent

    run_agent(args.config)
    return 0


def _hub(args: argparse.Namespace) -> int:
    from hub.serve import PortTaken
    from hub.settings import SettingsError

    try:
        if getattr(args, "account_command", None) is not None:  # hub user ... / hub token ...
            from hub.auth.cli import run

            return run(args)
        if args.config is None:
            print("campusguard hub: --config is required", file=sys.stderr)
            return 2
        from hub.run import run_hub

        run_hub(args.config)
    except (SettingsError, PortTaken) as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
    return 0


def _compliance_check(args: argparse.Namespace) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hub.compliance.files import ComplianceFileError, bundled_packs, load_pack, load_profiles
    from hub.domain.compliance.checks import evaluate
    from hub.domain.compliance.model import Status

    packs = bundled_packs()
    today = datetime.now(ZoneInfo(args.timezone)).date()
    try:
        profiles = [p for p in load_profiles(args.profiles) if args.school in (None, p.school_id)]
        chosen = {p.school_id: args.pack or list(p.packs or ("national-baseline",)) for p in profiles}
        loaded = {n: load_pack(packs.get(n) or Path(n)) for names in chosen.values() for n in names}
    except ComplianceFileError as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
    if not profiles:
        print(f"campusguard: no school {args.school!r} in {args.profiles}", file=sys.stderr)
        return 2
    statuses: set[Status] = set()
    for profile in profiles:
        rules = list({r.id: r for n in chosen[profile.school_id] for r in loaded[n]}.values())
        by_id = {r.id: r for r in rules}
        for f in evaluate(profile, rules, None, today):  # no hub here: rules about working devices are unknown
            statuses.add(f.status)
            rule = by_id[f.rule_id]
            missing = f"; missing: {', '.join(f.missing)}" if f.missing else ""
            print(f"{profile.school_id}\t{f.status.value}\t{f.rule_id}\t{f.subject}\t{f.evidence}{missing}")
            if f.status is not Status.PASS:
                print(f"\t\t{rule.text_zh} ({rule.source.document} {rule.source.clause}: {rule.source.quote})")
    return 1 if Status.FAIL in statuses else 3 if Status.UNKNOWN in statuses else 0


def _dashboards_push(args: argparse.Namespace) -> int:
    import os

    from hub.dashboards import DASHBOARDS_DIR, GrafanaError, PushPlan, push

    try:
        token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else os.environ["GRAFANA_TOKEN"]
        password = args.influx_password_file.read_text(encoding="utf-8").strip() if args.influx_password_file else None
    except (OSError, KeyError) as exc:
        print(f"campusguard: no Grafana token or InfluxDB password: {exc}", file=sys.stderr)
        return 2
    plan = PushPlan(args.grafana, token, args.influx_url, args.database, args.influx_user, password,
                    args.dir or DASHBOARDS_DIR, args.dry_run)  # fmt: skip
    try:
        report = push(plan)
    except GrafanaError as exc:
        print(f"campusguard: Grafana at {args.grafana}: {exc}", file=sys.stderr)
        return 1
    verb = "would change" if args.dry_run else "changed"
    for what in report.changed:
        print(f"{verb}: {what}")
    print(f"{len(report.changed)} {verb}, {len(report.unchanged)} already up to date")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from simulator.run import run_simulator

    run_simulator(args.config)
    return 0


def _profiles_check(args: argparse.Namespace) -> int:
    from agent.errors import ProfileError
    from agent.profiles import load_profile

    paths: list[Path] = []
    for path in args.paths:
        paths.extend(sorted(path.rglob("*.yaml")) if path.is_dir() else [path])
    failed = 0
    for path in paths:
        try:
            loaded = load_profile(path)
        except ProfileError as exc:
            failed += 1
            print(f"FAIL {exc}")
        else:
            what = f"{len(loaded.points)} points, " if loaded.points else ""
            print(f"ok   {path}: {loaded.kind}, {what}{len(loaded.alarms)} alarms")
    print(f"{len(paths) - failed} valid, {failed} invalid")
    return 1 if failed or not paths else 0


def _demo(args: argparse.Namespace) -> int:
    from campusguard.demo import run_demo

    return run_demo(duration_s=args.duration, port=args.port, data_dir=args.data_dir, scenario=args.scenario)


def _forward_test(args: argparse.Namespace) -> int:
    from hub.forwarding.check import run_forward_test
    from hub.settings import SettingsError

    try:
        return run_forward_test(args.config, args.school)
    except SettingsError as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2


def _add_compliance_and_dashboards(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("compliance", help="judge school profiles against rule packs")
    compliance = p.add_subparsers(dest="compliance_command", required=True)
    check_cmd = compliance.add_parser("check", help="print each rule's findings; exit 1 on a fail, 3 on unknowns only")
    check_cmd.add_argument("--profiles", type=Path, required=True, help="school profiles YAML (schools: [...])")
    check_cmd.add_argument("--school", default=None, help="only this school")
    check_cmd.add_argument(
        "--pack", action="append", default=None,
        help="a bundled pack name or a YAML file (repeatable); default: each profile's packs, else national-baseline",
    )  # fmt: skip
    check_cmd.add_argument("--timezone", default="Asia/Shanghai", help="whose date decides rules in force")
    check_cmd.set_defaults(func=_compliance_check)
    from campusguard import profiles_import

    profiles_import.add_parser(compliance)

    p = sub.add_parser("dashboards", help="Grafana dashboards over the hub's time series")
    dashboards = p.add_subparsers(dest="dashboards_command", required=True)
    push = dashboards.add_parser("push", help="create or update the folder, datasource and dashboards in a Grafana")
    push.add_argument("--grafana", required=True, help="Grafana URL, e.g. http://grafana:3000")
    push.add_argument("--token-file", type=Path, help="a Grafana service-account token (else $GRAFANA_TOKEN)")
    push.add_argument("--influx-url", required=True, help="the InfluxDB URL Grafana should query")
    push.add_argument("--database", default="campusguard", help="the InfluxDB database (InfluxQL)")
    push.add_argument("--influx-user", default=None)
    push.add_argument("--influx-password-file", type=Path, default=None)
    push.add_argument("--dir", type=Path, default=None, help="the dashboards' folder (default: the bundled ones)")
    push.add_argument("--dry-run", action="store_true", help="read only; say what would change")
    push.set_defaults(func=_dashboards_push)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="campusguard", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("agent", help="run the gateway agent")
    p.add_argument("--config", type=Path, required=True, help="agent YAML file")
    p.set_defaults(func=_agent)

    p = sub.add_parser("hub", help="run the hub: ingest, liveness, alarm ledger and REST API")
    p.add_argument("--config", type=Path, help="hub YAML file")
    p.set_defaults(func=_hub)
    from hub.auth.commands import add_parsers  # argparse only: imports no server code

    add_parsers(p.add_subparsers(dest="hub_command", required=False))

    p = sub.add_parser("simulate", help="run simulated devices with a control interface")
    p.add_argument("--config", type=Path, required=True, help="simulator YAML file")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("profiles", help="work with device profiles")
    profiles = p.add_subparsers(dest="profiles_command", required=True)
    check = profiles.add_parser("check", help="validate profile files or folders")
    check.add_argument("paths", type=Path, nargs="+")
    check.set_defaults(func=_profiles_check)

    p = sub.add_parser("forward", help="alarm forwarding to receiving centres")
    forward = p.add_subparsers(dest="forward_command", required=True)
    test = forward.add_parser("test", help="send a periodic test (602/RP) down every route of a school")
    test.add_argument("--school", required=True, help="school id")
    test.add_argument("--config", type=Path, default=Path("hub.yaml"), help="hub YAML file")
    test.set_defaults(func=_forward_test)

    from hub.gateways.commands import add_parsers as add_gateway_parsers  # argparse only

    add_gateway_parsers(sub)

    _add_compliance_and_dashboards(sub)
    from hub.report.cli import add_parser as add_report_parser  # argparse only

    add_report_parser(sub)

    p = sub.add_parser("demo", help="run a whole simulated system on embedded defaults")
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    p.add_argument("--port", type=int, default=8080, help="console port")
    p.add_argument("--data-dir", type=Path, default=Path(".demo-data"))
    p.add_argument("--scenario", default=None, help="play a scripted story, e.g. 'story'")
    p.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pymodbus logs every missed answer; the agent logs availability transitions instead.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    for chatty in ("amqtt", "transitions", "alembic", "httpx"):  # state changes, plugins and requests, not news
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from agent.errors import ConfigError

        if isinstance(exc, ConfigError):
            print(f"campusguard: {exc}", file=sys.stderr)
            return 2
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
