"""``campusguard hub --config hub.yaml``: serve the API and run ingest until SIGINT or SIGTERM."""

from pathlib import Path

import uvicorn

from hub.app import create_app
from hub.settings import load_settings


def run_hub(config_path: Path) -> None:
    """Load the settings and serve."""
    settings = load_settings(config_path)
    app = create_app(settings)
    uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_level="warning")
