"""``campusguard hub --config hub.yaml``: serve the API and run ingest until SIGINT or SIGTERM."""

from pathlib import Path

from hub.api.compliance import check_files
from hub.app import create_app
from hub.compliance.files import ComplianceFileError
from hub.serve import HubServer, check_port, server_config
from hub.settings import SettingsError, load_settings


def run_hub(config_path: Path) -> None:
    """Load the settings and serve."""
    settings = load_settings(config_path)
    try:
        check_files(settings)
    except ComplianceFileError as exc:
        raise SettingsError(f"{config_path}: compliance: {exc}") from None
    check_port(settings.api.host, settings.api.port)  # one clear line, before anything starts
    app = create_app(settings)
    HubServer(server_config(app, settings.api.host, settings.api.port, settings.api.trusted_proxies)).run()
