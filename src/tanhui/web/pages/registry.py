"""The public registry's pages (docs/registry.md): batches, holdings, retirement certificates (HTML and PDF),
inclusion proofs and the ledger's daily heads. No sign-in: all of it is public.

The pages follow Accept-Language only (tanhui.lang.request_lang), like the JSON under /v1/registry they mirror;
a missing batch, certificate or scheme is the API's JSON error.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, select_autoescape
from starlette.concurrency import run_in_threadpool

from tanhui.lang import request_lang
from tanhui.services import ledger_heads
from tanhui.services.registry import views as credits_views
from tanhui.store import Store
from tanhui.web.deps import store_of

router = APIRouter(include_in_schema=False)

_ENV = Environment(autoescape=select_autoescape(default=True))
_ENV.filters["u"] = lambda value: quote(str(value), safe="@")
_BASE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %} · Tanhui 碳惠</title>
<link rel="stylesheet" href="/static/registry.css"><link rel="icon" href="data:,">
</head><body><p><a href="/registry">{{ t('碳普惠减排量登记簿', 'Carbon inclusion credit registry') }}</a></p>
{% block body %}{% endblock %}</body></html>"""

_INDEX = _ENV.from_string(
    _BASE.replace("{% block title %}{% endblock %}", "{{ t('公开登记簿', 'Public registry') }}").replace(
        "{% block body %}{% endblock %}",
        """
<h1>{{ t('碳普惠减排量登记簿', 'Carbon inclusion credit registry') }}</h1>
<p>{{ t('每 1 个减排量 = 1 吨 CO₂e，由经核算的个人低碳行为汇集而成；每个批次的默克尔根承诺了其中的全部行为。', 'One credit = 1 t CO₂e, pooled from quantified personal low-carbon behaviours; each batch\\'s Merkle root commits to all of them.') }}</p>
<h2>{{ t('批次', 'Batches') }}</h2>
<table><thead><tr><th>{{ t('批次', 'Batch') }}</th><th>{{ t('年份', 'Vintage') }}</th><th>{{ t('方法学', 'Methodology') }}</th><th>{{ t('数量 (t)', 'Credits (t)') }}</th><th>{{ t('行为数', 'Events') }}</th><th>{{ t('默克尔根', 'Merkle root') }}</th></tr></thead>
<tbody>{% for b in batches %}<tr><td><a href="/registry/batches/{{ b.batch_id|u }}">{{ b.batch_id }}</a></td><td>{{ b.vintage }}</td><td>{{ b.methodology }}</td><td>{{ b.quantity }}</td><td>{{ b.event_count }}</td><td><code>{{ b.merkle_root }}</code></td></tr>{% endfor %}</tbody></table>
<h2>{{ t('持有', 'Holdings') }}</h2>
<table><thead><tr><th>{{ t('持有方', 'Holder') }}</th><th>{{ t('批次', 'Batch') }}</th><th>{{ t('持有 (t)', 'Held (t)') }}</th><th>{{ t('已注销 (t)', 'Retired (t)') }}</th></tr></thead>
<tbody>{% for h in holdings %}<tr><td>{{ h.holder.name }} <code>{{ h.holder.id }}</code></td><td>{{ h.batch_id }}</td><td>{{ h.held }}</td><td>{{ h.retired }}</td></tr>{% endfor %}</tbody></table>
<h2>{{ t('注销', 'Retirements') }}</h2>
<table><thead><tr><th>{{ t('证书', 'Certificate') }}</th><th>{{ t('受益方', 'Beneficiary') }}</th><th>{{ t('用途', 'Purpose') }}</th><th>{{ t('数量 (t)', 'Credits (t)') }}</th></tr></thead>
<tbody>{% for r in retirements %}<tr><td><a href="{{ r.url }}">{{ r.retirement_id }}</a> (<a href="{{ r.pdf_url }}">PDF</a>)</td><td>{{ r.beneficiary }}</td><td>{{ r.purpose }}</td><td>{{ r.quantity }}</td></tr>{% endfor %}</tbody></table>
<h2>{{ t('我的行为在这个批次里吗？', 'Was my behaviour part of a batch?') }}</h2>
<form method="get" action="/registry/proof"><input name="partner" placeholder="{{ t('合作方编号', 'partner id') }}" required><input name="event" placeholder="{{ t('行为编号', 'event id') }}" required><button type="submit">{{ t('查询', 'Look up') }}</button></form>
<h2>{{ t('账本每日哈希链头', 'Daily ledger heads') }}</h2>
<form method="get" action="/registry/ledger-heads"><input name="scheme" placeholder="{{ t('方案编号', 'scheme id') }}" required><button type="submit">{{ t('查看', 'Show') }}</button></form>
""",
    )
)

_BATCH = _ENV.from_string(
    _BASE.replace("{% block title %}{% endblock %}", "{{ b.batch_id }}").replace(
        "{% block body %}{% endblock %}",
        """
<h1>{{ t('批次', 'Batch') }} {{ b.batch_id }}</h1>
<table>
<tr><th>{{ t('年份', 'Vintage') }}</th><td>{{ b.vintage }}</td></tr>
<tr><th>{{ t('方法学', 'Methodology') }}</th><td>{{ b.methodology }}</td></tr>
<tr><th>{{ t('序列号', 'Serials') }}</th><td>{{ b.serial_first }} – {{ b.serial_last }}</td></tr>
<tr><th>{{ t('数量', 'Credits') }}</th><td>{{ b.quantity }} t CO₂e</td></tr>
<tr><th>{{ t('汇入行为', 'Events pooled') }}</th><td>{{ b.event_count }} ({{ b.consumed_g }} g)</td></tr>
<tr><th>{{ t('结转 (g)', 'Carried in / out (g)') }}</th><td>{{ b.carried_in_g }} / {{ b.carried_out_g }}</td></tr>
<tr><th>{{ t('默克尔根', 'Merkle root') }}</th><td><code>{{ b.merkle_root }}</code></td></tr>
<tr><th>{{ t('签发', 'Issued') }}</th><td>{{ b.issued_at }} ({{ t('截至', 'as of') }} {{ b.as_of }})</td></tr>
</table>
<h2>{{ t('序列号区块', 'Serial blocks') }}</h2>
<table><thead><tr><th>{{ t('区块', 'Block') }}</th><th>{{ t('持有方', 'Holder') }}</th><th>{{ t('状态', 'Status') }}</th></tr></thead>
<tbody>{% for x in b.blocks %}<tr><td>{{ x.block_id }}</td><td>{{ x.holder.name }}</td><td>{% if x.status == 'retired' %}{{ t('已注销', 'retired') }}{% if x.retirement_id %} · <a href="/registry/retirements/{{ x.retirement_id|u }}">{{ x.retirement_id }}</a>{% endif %}{% else %}{{ t('持有', 'held') }}{% endif %}</td></tr>{% endfor %}</tbody></table>
""",
    )
)

_CERT = _ENV.from_string(
    _BASE.replace("{% block title %}{% endblock %}", "{{ c.retirement_id }}").replace(
        "{% block body %}{% endblock %}",
        """
<div class="card">
<h1>{{ t('碳普惠减排量注销证明', 'Carbon inclusion credit retirement certificate') }}</h1>
<p>{{ t('证书编号', 'Certificate No.') }}: <strong>{{ c.retirement_id }}</strong></p>
<p class="big">{{ c.quantity }} t CO₂e</p>
<table>
<tr><th>{{ t('方案', 'Scheme') }}</th><td>{{ c.scheme_name }} ({{ c.scheme_id }})</td></tr>
<tr><th>{{ t('注销方', 'Retired by') }}</th><td>{{ c.holder.name }}</td></tr>
<tr><th>{{ t('受益方', 'Beneficiary') }}</th><td>{{ c.beneficiary }}</td></tr>
<tr><th>{{ t('用途', 'Purpose') }}</th><td>{{ c.purpose }}</td></tr>
<tr><th>{{ t('年份', 'Vintage') }}</th><td>{{ c.vintages|join(', ') }}</td></tr>
<tr><th>{{ t('方法学', 'Methodology') }}</th><td>{{ c.methodologies|join(', ') }}</td></tr>
<tr><th>{{ t('注销时间 (UTC)', 'Retired at (UTC)') }}</th><td>{{ c.retired_at }}</td></tr>
</table>
<h2>{{ t('注销的序列号', 'Retired serials') }}</h2>
<table><thead><tr><th>{{ t('序列号', 'Serials') }}</th><th>{{ t('数量 (t)', 'Credits (t)') }}</th><th>{{ t('批次与默克尔根', 'Batch and Merkle root') }}</th></tr></thead>
<tbody>{% for x in c.blocks %}<tr><td>{{ x.serial_first }} – {{ x.serial_last }}</td><td>{{ x.quantity }}</td><td><a href="/registry/batches/{{ x.batch_id|u }}">{{ x.batch_id }}</a><br><code>{{ x.merkle_root }}</code></td></tr>{% endfor %}</tbody></table>
<p>{{ t('验证链接', 'Verification link') }}: <a href="{{ c.url }}">{{ base_url }}{{ c.url }}</a> · <a href="{{ c.pdf_url }}">{{ t('下载 PDF 证书', 'Download the PDF certificate') }}</a></p>
</div>
""",
    )
)

_PROOF = _ENV.from_string(
    _BASE.replace("{% block title %}{% endblock %}", "{{ t('包含证明', 'Inclusion proof') }}").replace(
        "{% block body %}{% endblock %}",
        """
<h1>{{ t('包含证明', 'Inclusion proof') }}</h1>
{% if p.included %}
<p class="big">{{ t('是：该行为已汇入批次', 'Yes: this behaviour is in batch') }} <a href="/registry/batches/{{ p.batch_id|u }}">{{ p.batch_id }}</a></p>
<p>{{ t('证明已核验', 'Proof verified') }}: <strong>{{ p.verified }}</strong></p>
<p>{{ t('叶子记录', 'Leaf record') }}: <code>{{ record_json }}</code></p>
<p>{{ t('叶子哈希', 'Leaf') }}: <code>{{ p.leaf }}</code> · {{ t('位置', 'index') }} {{ p.index }}</p>
<table><thead><tr><th>{{ t('方向', 'Side') }}</th><th>{{ t('兄弟节点', 'Sibling') }}</th></tr></thead><tbody>{% for side, h in p.steps %}<tr><td>{{ side }}</td><td><code>{{ h }}</code></td></tr>{% endfor %}</tbody></table>
<p>{{ t('默克尔根', 'Merkle root') }}: <code>{{ p.merkle_root }}</code></p>
{% else %}
<p class="big">{{ t('否：该行为尚未汇入任何批次', 'No: this behaviour is not in a batch') }}</p>
{% endif %}
""",
    )
)

_HEADS = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<title>{{ t('账本每日哈希链头', 'Daily ledger heads') }} · {{ h.scheme_id }}</title></head><body>
<h1>{{ t('账本每日哈希链头', 'Daily ledger heads') }} · {{ h.scheme_id }}</h1>
<p>{{ t('保存这些值：若日后重算结果不同，说明账本被改写。', 'Keep these values: if a later recomputation differs, the ledger was rewritten.') }}
 <a href="/v1/registry/ledger-heads?scheme={{ h.scheme_id }}">JSON</a></p>
<table><tr><th>{{ t('日期', 'Date') }}</th><th>{{ t('合并哈希', 'Combined hash') }}</th><th>{{ t('各链', 'Chains') }}</th></tr>
{% for d in h.days %}<tr><td>{{ d.date }}</td><td><code>{{ d.combined }}</code></td>
<td>{% for c in d.chains %}<code>{{ c.chain_id }} #{{ c.seq }} {{ c.head }}</code><br>{% endfor %}</td></tr>{% endfor %}
</table></body></html>""")


def _t(lang: str) -> Any:
    return lambda zh, en: en if lang == "en" else zh


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/registry/ledger-heads")
async def heads_page(
    request: Request, scheme: str, until: date | None = None, days: int = 7, store: Store = Depends(store_of)
) -> Response:
    lang = request_lang(request)
    found = await run_in_threadpool(lambda: ledger_heads.daily_heads(store, scheme, until=until, days=days))
    return HTMLResponse(_HEADS.render(lang=lang, h=found, t=lambda zh, en: en if lang == "en" else zh))


@router.get("/registry")
async def index_page(request: Request, scheme: str | None = None, store: Store = Depends(store_of)) -> Response:
    lang = request_lang(request)

    def run() -> str:
        return _INDEX.render(
            lang=lang,
            t=_t(lang),
            batches=credits_views.list_batches(store, scheme),
            holdings=credits_views.holdings(store, scheme),
            retirements=credits_views.list_retirements(store, scheme),
        )

    return HTMLResponse(await run_in_threadpool(run))


@router.get("/registry/proof")
async def proof_page(
    request: Request, partner: str, event: str, batch: str | None = None, store: Store = Depends(store_of)
) -> Response:
    from tanhui.domain.canonical import canonical_json

    lang = request_lang(request)
    found = await run_in_threadpool(credits_views.proof, store, partner, event, batch)
    record = canonical_json(found["record"]) if found.get("record") else ""
    return HTMLResponse(_PROOF.render(lang=lang, t=_t(lang), p=found, record_json=record))


@router.get("/registry/batches/{batch_id}")
async def batch_page(request: Request, batch_id: str, store: Store = Depends(store_of)) -> Response:
    lang = request_lang(request)
    found = await run_in_threadpool(credits_views.batch_detail, store, batch_id)
    return HTMLResponse(_BATCH.render(lang=lang, t=_t(lang), b=found))


@router.get("/registry/retirements/{retirement_id}.pdf")
async def certificate_pdf(request: Request, retirement_id: str, store: Store = Depends(store_of)) -> Response:
    from tanhui.certificates import certificate_pdf as render_pdf

    found = await run_in_threadpool(credits_views.certificate, store, retirement_id)
    body = await run_in_threadpool(render_pdf, found, _base_url(request))
    return Response(
        body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{retirement_id}.pdf"'}
    )


@router.get("/registry/retirements/{retirement_id}")
async def certificate_page(request: Request, retirement_id: str, store: Store = Depends(store_of)) -> Response:
    lang = request_lang(request)
    found = await run_in_threadpool(credits_views.certificate, store, retirement_id)
    return HTMLResponse(_CERT.render(lang=lang, t=_t(lang), c=found, base_url=_base_url(request)))
