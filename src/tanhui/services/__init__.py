"""Use cases: each runs inside one unit of work and is the only code that calls domain and store."""
