"""Typed decoding errors of the contract.

ContractError
├── InvalidTopic        the topic is not in the tree (wrong prefix, level count, or forged id)
├── PayloadTooLarge     over MAX_PAYLOAD_BYTES, rejected before parsing
├── UnsupportedVersion  schema_version has another major, or is missing or malformed
└── InvalidPayload      not JSON, or JSON that does not match the message model

Each carries a short machine-readable ``reason`` so receivers can count rejects by reason.
"""


class ContractError(ValueError):
    """A message that does not follow the contract."""

    reason = "invalid"


class InvalidTopic(ContractError):
    """The topic is not part of the topic tree."""

    reason = "topic"


class PayloadTooLarge(ContractError):
    """The payload is larger than the contract allows."""

    reason = "too_large"


class UnsupportedVersion(ContractError):
    """The payload's schema_version cannot be read by this side."""

    reason = "version"


class InvalidPayload(ContractError):
    """The payload is not valid JSON or does not match its message model."""

    reason = "payload"
