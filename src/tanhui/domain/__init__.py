"""The pure core: plain dataclasses and functions, no framework, driver or clock imports.

Time, ids and randomness come in as arguments, so every rule is testable in microseconds.
"""
