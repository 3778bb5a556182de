"""Repositories: the only code that writes SQL; one per aggregate."""
