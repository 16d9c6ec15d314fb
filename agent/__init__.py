"""The CampusGuard agent: polls a school's security devices and publishes over MQTT."""

__version__ = "0.1.0"
