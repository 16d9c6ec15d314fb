"""The bundled device profiles, as data: ``<kind>/<vendor>-<model>.yaml``. See README.md here."""

from pathlib import Path

PROFILES_DIR = Path(__file__).resolve().parent
