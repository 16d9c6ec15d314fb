"""Why a delivery failed, translated at the protocol boundary.

```
DeliveryError            the receiver did not take the message; the outbox retries (never drops)
├── ReceiverUnreachable  connect refused, reset or timed out           result "unreachable"
├── AckTimeout           sent, no answer within ack_timeout_s          result "timeout"
├── Rejected             NAK, DUH, or a non-2xx webhook answer         result "nak" / "duh" / "rejected"
└── BadReply             an answer we cannot parse (CRC, framing)      result "bad_reply"
```
"""


class DeliveryError(Exception):
    """The receiver did not acknowledge the message."""

    result = "error"

    def __init__(self, message: str, *, result: str | None = None) -> None:
        super().__init__(message)
        if result is not None:
            self.result = result


class ReceiverUnreachable(DeliveryError):
    """No connection to the receiver."""

    result = "unreachable"


class AckTimeout(DeliveryError):
    """The message went out but no answer came."""

    result = "timeout"


class Rejected(DeliveryError):
    """The receiver answered with a refusal."""

    result = "rejected"


class BadReply(DeliveryError):
    """The receiver's answer is malformed."""

    result = "bad_reply"
