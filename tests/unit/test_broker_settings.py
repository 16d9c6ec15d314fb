"""One model of how to reach the broker, for the agent and the hub (campusguard.mqtt.BrokerSettings)."""

from pathlib import Path

import aiomqtt
import pytest

from agent.config import MqttSettings as AgentMqtt
from campusguard.mqtt import BrokerSettings, SecretMissing, subscribe_all
from hub.settings import MqttSettings as HubMqtt
from hub.settings import SettingsError, load_settings
from tests.support.nats import NatsCluster


def test_both_sides_extend_the_same_model_with_their_own_session_fields() -> None:
    assert issubclass(AgentMqtt, BrokerSettings) and issubclass(HubMqtt, BrokerSettings)
    shared = set(BrokerSettings.model_fields)
    assert shared <= set(AgentMqtt.model_fields) and shared <= set(HubMqtt.model_fields)
    assert "share_group" not in AgentMqtt.model_fields  # a hub's matter
    hub = HubMqtt(url="mqtts://broker.example")
    assert (hub.host, hub.port, hub.tls) == ("broker.example", 8883, True)
    assert hub.tls_parameters() is not None and AgentMqtt().tls_parameters() is None


def test_a_named_secret_that_is_not_there_says_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CG_NO_SUCH_SECRET", raising=False)
    with pytest.raises(SecretMissing, match="variable CG_NO_SUCH_SECRET is not set"):
        BrokerSettings(password_env="CG_NO_SUCH_SECRET").resolve_password()
    with pytest.raises(SecretMissing, match=r"password_file: .*gone"):
        BrokerSettings(password_file=tmp_path / "gone").resolve_password()
    monkeypatch.setenv("CG_NO_SUCH_SECRET", "s3cret")
    assert BrokerSettings(password_env="CG_NO_SUCH_SECRET").resolve_password() == "s3cret"


def test_the_hub_does_not_start_without_the_secret_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, the hub connected with no password at all and the broker refused it without a reason.
    monkeypatch.delenv("CG_HUB_SECRET", raising=False)
    config = tmp_path / "hub.yaml"
    config.write_text("mqtt:\n  username: hub\n  password_env: CG_HUB_SECRET\n")
    with pytest.raises(SettingsError, match=r"hub\.yaml: mqtt\.password_env: variable CG_HUB_SECRET is not set"):
        load_settings(config)


@pytest.mark.integration
async def test_a_refused_subscription_is_an_error_not_silence(tmp_path: Path) -> None:
    """A client that went on after a refused SUBACK would never get its acks (NATS refuses while it
    elects leaders after a node's death). Here a real nats-server refuses a filter with a "." (2.9),
    in the same SUBACK as one it grants."""
    nats = NatsCluster(tmp_path / "nats", size=1).start()
    try:
        async with aiomqtt.Client("127.0.0.1", nats.mqtt_ports[0]) as client:
            await subscribe_all(client, [("campus/v1/+/+/ack", 1)])
            with pytest.raises(aiomqtt.MqttError, match=r"refused the subscription to campus/v1/a\.b/\+/ack"):
                await subscribe_all(client, [("campus/v1/+/+/ack", 1), ("campus/v1/a.b/+/ack", 1)])
    finally:
        nats.stop()
