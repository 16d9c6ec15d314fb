"""The ``campusguard`` command; each subcommand imports only its own side."""
