"""Time series: what the hub takes in, written to InfluxDB by a sink of the pipeline (docs/timeseries.md)."""
