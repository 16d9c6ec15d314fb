"""Gateway identity: the registry of gateways allowed to speak, their broker credentials, and the
broker configuration (password file and ACL) that makes a topic's school and gateway trustworthy."""
