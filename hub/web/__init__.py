"""The guards' and IT staff's web console (issue 5): static files served by the hub, no build step."""
