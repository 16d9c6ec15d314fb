"""Forwarding rules: which alarms go where, and configuration mistakes caught at load."""

from pathlib import Path

import pytest
import yaml

from hub.forwarding.settings import ForwardingSettings
from hub.settings import SettingsError, load_settings

RULES = {
    "receivers": {
        "arc-1": {"type": "dc09", "host": "127.0.0.1", "port": 12000, "key": "0123456789ABCDEF"},
        "arc-2": {"type": "dc09", "host": "127.0.0.1", "port": 12001, "format": "sia-dcs"},
        "edu": {"type": "webhook", "url": "https://edu.example/alarms", "secret": "s"},
    },
    "routes": [
        {
            "name": "police",
            "schools": ["*"],
            "kinds": ["intrusion", "door_forced"],
            "primary": "arc-1",
            "backup": "arc-2",
        },
        {"name": "edu", "schools": ["school-b"], "kinds": ["device_offline"], "primary": "edu"},
    ],
    "schools": {"school-a": {"account": "1234"}},
}


@pytest.mark.parametrize(
    ("school", "kind", "routes"),
    [
        ("school-a", "panic", ["police"]),  # panic always, whatever the kinds say
        ("school-b", "panic", ["police", "edu"]),
        ("school-a", "intrusion", ["police"]),
        ("school-a", "tamper", []),
        ("school-b", "device_offline", ["edu"]),
        ("school-a", "device_offline", []),
    ],
)
def test_routes_for(school: str, kind: str, routes: list[str]) -> None:
    rules = ForwardingSettings.model_validate(RULES)
    assert [r.name for r in rules.routes_for(school, kind)] == routes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"routes": [{"name": "x", "primary": "nope"}]}, "no receiver 'nope'"),
        ({"routes": [{"name": "x", "primary": "arc-1", "kinds": ["coffee"]}]}, "no event code"),
        ({"receivers": {"arc-1": {"type": "dc09", "host": "h", "port": 1, "key": "short"}}}, "16, 24 or 32"),
        ({"schools": {"s": {"account": "xyz!"}}}, "account"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, change: dict[str, object], message: str) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"forwarding": {**RULES, **change}}))
    with pytest.raises(SettingsError, match="forwarding") as exc:
        load_settings(config)
    assert message in str(exc.value) or message in repr(exc.value)


def test_no_routes_forward_nothing() -> None:
    assert not ForwardingSettings().enabled
