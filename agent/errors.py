"""The agent's error hierarchy; protocol libraries' exceptions are translated into it at the edge.

AgentError
├── RetryableError            the device may answer next time; the scheduler backs off
│   ├── Unreachable           no connection (reason "unreachable")
│   ├── DeviceTimeout         connected, no answer in time (reason "timeout")
│   ├── Busy                  the device or bus said busy (reason "busy")
│   ├── ProtocolError         the device answered nonsense or an exception (reason "protocol")
│   └── InternalError         the driver or its library failed unexpectedly (reason "internal")
└── FatalError                retrying will not help until a person acts
    ├── ConfigError           bad configuration or profile: stops start-up
    │   └── FileError         a YAML file is invalid: names file, line, field and reason
    │       └── ProfileError  ... and that file is a device profile
    └── AuthError             credentials refused (reason "auth")
"""


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""

    reason = "error"


class RetryableError(AgentError):
    """A failure that may pass by itself."""


class Unreachable(RetryableError):
    """The device or its bus cannot be connected."""

    reason = "unreachable"


class DeviceTimeout(RetryableError):
    """The device did not answer in time."""

    reason = "timeout"


class Busy(RetryableError):
    """The device or gateway reported that it is busy."""

    reason = "busy"


class ProtocolError(RetryableError):
    """The device answered, but with an exception or data that makes no sense."""

    reason = "protocol"


class InternalError(RetryableError):
    """A driver or library raised something no one translated: a bug, kept to its device."""

    reason = "internal"


class FatalError(AgentError):
    """A failure that needs a person."""


class ConfigError(FatalError):
    """The configuration is invalid."""

    reason = "config"


class FileError(ConfigError):
    """A configuration file is invalid at a known place."""

    def __init__(self, file: str, field: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.field = field
        self.detail = reason
        self.line = line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {reason}")


class ProfileError(FileError):
    """A device profile is invalid."""


class AuthError(FatalError):
    """The device refused our credentials."""

    reason = "auth"
