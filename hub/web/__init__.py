"""The guards' and IT staff's web console: static files served by the hub, no build step."""
