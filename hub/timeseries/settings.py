"""``timeseries`` in hub.yaml: where the hub writes its time series, and how hard it tries."""

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator

from campusguard.mqtt import read_secret


class InfluxSettings(BaseModel):
    """An InfluxDB: the 1.x API (``/write``: database, retention policy, user and password; also
    1.x compatibility on 2.x and 3.x) or the 2.x API (``/api/v2/write``: org, bucket, token)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api: Literal["v1", "v2"] = "v1"
    url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8086")
    database: str = Field(default="campusguard", min_length=1, max_length=200)  # v1
    retention_policy: str | None = Field(default=None, max_length=200)  # v1; None: the database's default
    username: str | None = Field(default=None, max_length=200)  # v1
    password: SecretStr | None = None  # v1
    password_file: Path | None = None
    org: str | None = Field(default=None, max_length=200)  # v2
    bucket: str | None = Field(default=None, max_length=200)  # v2
    token: SecretStr | None = None  # v2
    token_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _api_fields(self) -> "InfluxSettings":
        if self.api == "v2" and not (self.org and self.bucket):
            raise ValueError("api v2 needs org and bucket")
        return self

    def secret(self) -> str | None:
        """The v1 password or the v2 token (SecretMissing when its file is not there)."""
        if self.api == "v2":
            return self.token.get_secret_value() if self.token else read_secret("token", None, self.token_file)
        return self.password.get_secret_value() if self.password else read_secret("password", None, self.password_file)


class EmbeddedSettings(BaseModel):
    """The embedded store (``backend: embedded``): a SQLite file of its own, downsampled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | None = (
        None  # None: beside the hub's SQLite database (<name>.timeseries.db), or ./campusguard-timeseries.db
    )
    raw_days: float = Field(default=7, gt=0, le=3_650, description="every value as it came, this long")
    m5_days: float = Field(default=90, gt=0, le=36_500, description="5-minute count, sum, min and max, this long")
    rollup_s: float = Field(default=60, gt=0, le=3_600, description="how often buckets are rolled up and old rows go")


class TimeSeriesSettings(BaseModel):
    """Off by default; ``embedded`` keeps every heartbeat's numbers in a SQLite file of the hub's,
    ``influxdb`` writes them, state changes, alarms and daily rates to InfluxDB."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["none", "embedded", "influxdb"] = "none"
    influxdb: InfluxSettings = InfluxSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    buffer_max: int = Field(
        default=200_000, ge=1_000, le=10_000_000, description="lines held while the database is away"
    )
    batch_max: int = Field(default=5_000, ge=1, le=100_000, description="lines per write request")
    writers: int = Field(
        default=2, ge=1, le=16, description="write requests in flight at once (InfluxDB takes more that way)"
    )
    flush_s: float = Field(default=1.0, gt=0, le=60, description="the longest a line waits to be written")
    retry_max_s: float = Field(default=30.0, gt=0, le=600, description="the longest wait between failed writes")
    hub_every_s: float = Field(
        default=10, gt=0, le=3_600, description="how often the hub writes its own counters (measurement hub)"
    )
    daily_check_s: float = Field(
        default=600, gt=0, le=86_400, description="how often the leader looks for ended days to write as daily_rate"
    )
    daily_backfill_days: int = Field(
        default=7,
        ge=1,
        le=400,
        description="ended days written (again) when the hub starts: covers a hub down that long",
    )
