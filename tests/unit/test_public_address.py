"""A device's address as the hub shows it: where it is polled, never a password or a token."""

import pytest

from agent.drivers.spec import public_address


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("tcp://10.0.0.5:502", "tcp://10.0.0.5:502"),
        ("rtu+tcp://10.0.0.6:4001", "rtu+tcp://10.0.0.6:4001"),
        ("rtu:///dev/ttyUSB0?baudrate=9600", "rtu:///dev/ttyUSB0"),
        (
            "rtsp://admin:S3cret!@192.168.1.64:554/Streaming/Channels/101",
            "rtsp://192.168.1.64:554/Streaming/Channels/101",
        ),
        ("onvif://admin:pw@cam.local", "onvif://cam.local"),
        ("http://u:p@[fe80::1]:8080/mjpeg?token=abc#x", "http://[fe80::1]:8080/mjpeg"),
        ("http://host:99999/x", ""),  # a port out of range: nothing rather than a guess
        ("", ""),
        ("not a url", ""),
    ],
)
def test_credentials_and_queries_never_leave_the_gateway(address: str, shown: str) -> None:
    assert public_address(address) == shown
    assert "S3cret" not in public_address(address) and "token" not in public_address(address)


def test_a_long_address_is_cut_to_what_a_birth_carries() -> None:
    assert len(public_address("http://h/" + "x" * 500)) == 200
