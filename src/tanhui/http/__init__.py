"""The HTTP API (api-v1.md): partner, user and (later) operator paths; errors in one JSON shape."""
