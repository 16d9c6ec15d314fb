"""The argument parsers of ``campusguard hub user|token ...`` (argparse only: no server code imported).

The commands themselves are in ``hub.auth.cli``, imported when one runs.
"""

import argparse
from pathlib import Path

ROLE_NAMES = ["guard", "it_staff", "school_admin", "district_admin", "viewer"]  # hub.auth.roles.ROLES


def add_parsers(hub_commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``hub user ...`` and ``hub token ...`` under the ``hub`` command."""
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=Path("hub.yaml"), help="hub YAML file")
    user = hub_commands.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", parents=[config], help="create an account")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLE_NAMES)
    p.add_argument("--school", action="append", help="a school of the account (repeat for more)")
    p.add_argument("--district", help="a district id, or '*' for every school")
    p.add_argument("--display-name", help="the name shown in the console")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(account_command="user_add")
    p = user.add_parser("list", parents=[config], help="list accounts")
    p.set_defaults(account_command="user_list")
    p = user.add_parser("passwd", parents=[config], help="set a new password (ends the account's sessions)")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(account_command="user_passwd")
    p = user.add_parser("disable", parents=[config], help="disable an account (ends its sessions and tokens)")
    p.add_argument("username")
    p.add_argument("--enable", action="store_true", help="enable it again instead")
    p.set_defaults(account_command="user_disable")
    token = hub_commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True
    )
    p = token.add_parser("create", parents=[config], help="create an API token (printed once)")
    p.add_argument("username")
    p.add_argument("--name", required=True, help="what the token is for")
    p.set_defaults(account_command="token_create")
    p = token.add_parser("list", parents=[config], help="list an account's tokens")
    p.add_argument("username")
    p.set_defaults(account_command="token_list")
    p = token.add_parser("revoke", parents=[config], help="revoke a token by id")
    p.add_argument("token_id", type=int)
    p.set_defaults(account_command="token_revoke")
