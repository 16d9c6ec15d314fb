"""``campusguard hub --config hub.yaml``: serve the API and run ingest until SIGINT or SIGTERM."""

from pathlib import Path

from hub.app import create_app
from hub.serve import HubServer, check_port, server_config
from hub.settings import load_settings


def run_hub(config_path: Path) -> None:
    """Load the settings and serve."""
    settings = load_settings(config_path)
    check_port(settings.api.host, settings.api.port)  # one clear line, before anything starts
    app = create_app(settings)
    HubServer(server_config(app, settings.api.host, settings.api.port, settings.api.trusted_proxies)).run()
