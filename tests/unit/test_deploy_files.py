"""The deployment files (deploy/): they cannot run here (no container engine), so what can be checked
is checked: the compose file parses and names every service the hubs' configurations point at; the
hubs' configurations are valid and fit a multi-hub district; the systemd units are hardened."""

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from hub.settings import HubSettings
from tests.support.servers import TlsFiles, find_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load_settings(path: Path) -> HubSettings:
    """A hub configuration, validated as the hub would (its secrets live on the server, not here)."""
    return HubSettings.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_district_compose_file_has_every_service_its_hubs_use() -> None:
    compose = yaml.safe_load((DEPLOY / "district" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    hubs = [name for name in services if name.startswith("hub")]
    assert len(hubs) >= 2, "a district survives the loss of one hub"
    for name in hubs:
        mounted = services[name]["volumes"][0].split(":")[0]
        settings = load_settings(DEPLOY / "district" / mounted.removeprefix("./"))
        for url in (settings.mqtt.url, settings.database.url, str(settings.timeseries.influxdb.url)):
            host = urlsplit(url).hostname
            assert host in services, f"{name}: {host} is not a service"
        assert settings.cluster.partitions > 1 and settings.database.url.startswith("postgresql")
        assert len(settings.mqtt.nodes()) == 2  # each hub moves to the other broker node
        assert settings.mqtt.password_file and Path(settings.mqtt.password_file).name in compose["secrets"]
    client_ids = {load_settings(DEPLOY / "district" / f"{h}.yaml").mqtt.client_id for h in hubs}
    assert len(client_ids) == len(hubs), "each hub keeps its own broker session"
    brokers = [s for s in services if s.startswith("emqx")]
    assert len(brokers) >= 2
    for name in brokers:
        env = services[name]["environment"]
        assert env["EMQX_MQTT__SHARED_SUBSCRIPTION_STRATEGY"] == "hash_clientid"  # a gateway sticks to a hub
        assert env["EMQX_AUTHORIZATION__NO_MATCH"] == "deny"
    proxy = (DEPLOY / "district" / "Caddyfile").read_text(encoding="utf-8")
    assert all(f"{h}:8080" in proxy for h in hubs) and "flush_interval -1" in proxy  # the live stream unbuffered


def test_the_postgresql_settings_warn_about_transaction_pooling() -> None:
    conf = (DEPLOY / "district" / "postgresql.conf").read_text(encoding="utf-8")
    assert "transaction mode" in conf and "advisory lock" in conf
    assert "synchronous_commit = on" in conf


def test_the_systemd_units_are_hardened_and_restart() -> None:
    for unit in ("campusguard-hub.service", "campusguard-agent.service"):
        text = (DEPLOY / unit).read_text(encoding="utf-8")
        for line in ("User=campusguard", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=always"):
            assert line in text, f"{unit}: {line}"
    assert "WatchdogSec=" in (DEPLOY / "campusguard-agent.service").read_text(encoding="utf-8")


def test_the_city_broker_node_config_is_one_nats_server_accepts(tmp_path: Path) -> None:
    """Debian's nats-server checks the city's node configuration (``-t``), with throwaway TLS files."""
    tls = TlsFiles(tmp_path / "tls")
    conf = (DEPLOY / "city" / "nats-node.conf").read_text(encoding="utf-8")
    for name, path in (("broker.crt", tls.cert), ("broker.key", tls.key), ("ca.crt", tls.ca)):
        conf = conf.replace(f"/etc/nats/tls/{name}", str(path))
    (tmp_path / "nats.conf").write_text(conf.replace("/var/lib/nats/jetstream", str(tmp_path / "js")))
    env = {
        "NATS_NODE": "nats1", "NATS_CLUSTER_LISTEN": "127.0.0.1:6222", "NATS_ROUTE_PASSWORD": "r",
        "NATS_HUB_PASSWORD": "h", "NATS_GATEWAY_PASSWORD": "g",
    }  # fmt: skip
    checked = subprocess.run(
        [find_binary("nats-server", "/usr/sbin"), "-c", str(tmp_path / "nats.conf"), "-t"],
        check=False, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_the_city_hub_config_partitions_the_gateways_over_the_nats_nodes() -> None:
    settings = load_settings(DEPLOY / "city" / "hub-a.yaml")
    assert settings.cluster.partitions > 1 and settings.several_hubs and not settings.mqtt.share_group
    assert settings.mqtt.protocol == "3.1.1"  # what NATS speaks
    assert len(settings.mqtt.nodes()) == 3  # a session moves to another node when one dies
    assert settings.database.url.startswith("postgresql")
