"""The argument parsers of ``campusguard gateway ...`` and ``campusguard broker config`` (argparse only).

The commands are in ``hub.gateways.cli``, imported when one runs: an agent-only install builds
these parsers without the hub's dependencies.
"""

import argparse
from pathlib import Path

OUTPUTS = ("passwd", "acl", "dynamic-security.json", "emqx-acl.conf")


def _run(args: argparse.Namespace) -> int:
    from hub.gateways.cli import run

    return run(args)


def _write_broker_config(args: argparse.Namespace) -> int:
    from hub.gateways.cli import write_broker_config

    return write_broker_config(args)


def add_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The ``gateway`` and ``broker`` commands."""
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=Path("hub.yaml"), help="hub YAML file")
    gateway = sub.add_parser("gateway", help="register gateways and their broker credentials")
    commands = gateway.add_subparsers(dest="gateway_command", required=True)
    for name, text in (
        ("add", "register a gateway; prints its broker username and password once"),
        ("rotate", "a new password for a gateway"),
        ("revoke", "take a gateway off the broker and the hub"),
    ):
        p = commands.add_parser(name, parents=[config], help=text)
        p.add_argument("name", help="school/gateway, e.g. school-001/gw-01")
        p.set_defaults(func=_run)
    commands.add_parser("list", parents=[config], help="list registered gateways").set_defaults(func=_run)
    broker_commands = sub.add_parser("broker", help="broker configuration").add_subparsers(
        dest="broker_command", required=True
    )
    b = broker_commands.add_parser(
        "config", parents=[config], help="write the broker's password and ACL files from the registry"
    )
    b.add_argument("--out", type=Path, required=True, help="directory for " + ", ".join(OUTPUTS))
    b.set_defaults(func=_write_broker_config)
