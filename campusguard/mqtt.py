"""What the agent's and the hub's MQTT clients share: the TLS parameters of an ``mqtts://`` connection."""

import ssl
from pathlib import Path

import aiomqtt


def tls_parameters(ca_file: Path | None, cert_file: Path | None, key_file: Path | None) -> aiomqtt.TLSParameters:
    """Verify the broker against ``ca_file`` (or the system's CAs); present a client certificate if given."""
    return aiomqtt.TLSParameters(
        ca_certs=str(ca_file) if ca_file else None,
        certfile=str(cert_file) if cert_file else None,
        keyfile=str(key_file) if key_file else None,
        cert_reqs=ssl.CERT_REQUIRED,
    )
