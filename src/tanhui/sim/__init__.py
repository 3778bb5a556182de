"""The demo city: a believable population whose partners report through the real signed API."""
