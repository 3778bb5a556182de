"""The `tanhui` command (Typer + Rich): translates arguments to service calls and errors to lines."""
