"""The language of a request, shared by both adapters (the JSON API and the pages).

`Accept-Language` decides: English when its first entry is English, else zh-CN (the default of
messages.py). The pages let a `lang` cookie override this (web); the JSON API does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class HasHeaders(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...


def request_lang(request: HasHeaders) -> str:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh-CN"
