"""``campusguard gateway add|list|rotate|revoke`` and ``campusguard broker config``.

Gateways are registered on the hub's database directly (whoever can read ``hub.yaml`` and the
database administers it already); each change is audited with actor ``cli``. ``broker config``
writes the broker's password and ACL files from the registry; reload mosquitto (SIGHUP) after it.
"""

import argparse

from contract.messages import utc_now
from hub.auth import audit
from hub.auth.cli import CLI_ACTOR, open_database
from hub.gateways import broker, registry
from hub.settings import load_settings


def run(args: argparse.Namespace) -> int:
    """One gateway command."""
    sessions, now = open_database(args.config), utc_now()
    if args.gateway_command == "list":
        with sessions() as db:
            for row in registry.active(db):
                print(f"{row.username}\tregistered {row.created_at:%Y-%m-%d}")
        return 0
    try:
        with sessions.begin() as db:
            if args.gateway_command == "add":
                row, password = registry.add(db, args.name, now)
            elif args.gateway_command == "rotate":
                password = registry.rotate(db, args.name, now)
            else:
                registry.revoke(db, args.name, now)
                password = ""
            audit.record(db, at=now, actor=CLI_ACTOR, action=f"gateway.{args.gateway_command}", target=args.name)
    except registry.RegistryError as exc:
        print(f"campusguard: {exc}")
        return 2
    if password:
        print(f"username: {args.name}\npassword: {password}")
        print("put them in the gateway's agent.yaml (mqtt.username, mqtt.password_file), then run")
        print("`campusguard broker config` and reload the broker")
    else:
        print(f"{args.name} revoked; run `campusguard broker config` and reload the broker")
    return 0


def write_broker_config(args: argparse.Namespace) -> int:
    """Write every output format into ``--out``."""
    settings = load_settings(args.config)
    mqtt = settings.mqtt
    hub, fresh = broker.hub_account(mqtt.username or "campusguard-hub", mqtt.resolve_password())
    with open_database(args.config)() as db:
        gateways = [broker.Account(row.username, row.password_hash) for row in registry.active(db)]
    names = [g.username for g in gateways]
    prefix = mqtt.topic_prefix
    args.out.mkdir(parents=True, exist_ok=True)
    files = {
        "passwd": broker.password_file(hub, gateways),
        "acl": broker.acl_file(prefix, hub.username, names),
        "dynamic-security.json": broker.dynamic_security(prefix, hub, gateways),
        "emqx-acl.conf": broker.emqx_acl(prefix, hub.username, names),
    }
    for name, text in files.items():
        path = args.out / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
    print(f"{len(gateways)} gateways and the hub ({hub.username}) written to {args.out}")
    if fresh:
        print(f"the hub had no broker password; set mqtt.password (or password_env) in hub.yaml to: {fresh}")
    return 0
