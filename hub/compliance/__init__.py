"""Compliance data: rule packs and school profiles read from YAML into the pure model
(``hub.domain.compliance``), with errors that name the file, the field and the reason."""
