"""The language a request asks for, shared by the JSON API (http/) and the pages (web/).

Answers are in zh-CN unless the first Accept-Language entry is English. The pages also honour the
`lang` cookie their switch link sets (web/render.py: web_lang), on top of this.
"""

from __future__ import annotations

from starlette.requests import Request


def request_lang(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh-CN"
