"""The web application (docs/web.md): server-rendered pages on the same app as the API."""
