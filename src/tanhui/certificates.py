"""Retirement certificates as PDF (ReportLab), from the certificate data of services.registry.views.

Chinese text uses ReportLab's built-in CID font STSong-Light: the text extracts (pdftotext, pypdf)
and renders wherever a CJK font is installed (the font is not embedded). The output is
byte-for-byte reproducible (``invariant``): the same certificate always gives the same file.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
_registered: list[bool] = []


def _font() -> str:
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered.append(True)
    return FONT


def certificate_pdf(cert: dict[str, Any], base_url: str = "") -> bytes:
    """The certificate as one or more A4 pages."""
    font = _font()
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(f"{cert['retirement_id']} 碳普惠减排量注销证明")
    pdf.setAuthor("Tanhui 碳惠")
    width, height = A4
    margin = 56
    y = height - margin

    def line(text: str, size: float = 11, gap: float = 6, indent: float = 0) -> None:
        nonlocal y
        for part in simpleSplit(text, font, size, width - 2 * margin - indent) or [""]:
            if y < margin + size:
                pdf.showPage()
                y = height - margin
            pdf.setFont(font, size)
            pdf.drawString(margin + indent, y - size, part)
            y -= size + gap

    line("碳普惠减排量注销证明", 20, 4)
    line("Carbon Inclusion Credit Retirement Certificate", 13, 14)
    line(f"证书编号 Certificate No.: {cert['retirement_id']}", 11)
    line(f"方案 Scheme: {cert['scheme_name']} ({cert['scheme_id']})")
    line(f"注销方 Retired by: {cert['holder']['name']} ({cert['holder']['id']})")
    line(f"受益方 Beneficiary: {cert['beneficiary']}")
    line(f"用途 Purpose: {cert['purpose']}")
    line(f"数量 Quantity: {cert['quantity']} t CO2e（{cert['quantity']} 个减排量 credits）")
    line(f"年份 Vintage: {', '.join(str(v) for v in cert['vintages'])}")
    line(f"方法学 Methodology: {', '.join(cert['methodologies'])}")
    line(f"注销时间 Retired at (UTC): {cert['retired_at']}", 11, 14)
    line("注销的序列号 Retired serials", 13, 8)
    for block in cert["blocks"]:
        line(f"{block['serial_first']} – {block['serial_last']}（{block['quantity']} t）", 10, 3, 12)
        line(f"批次 Batch: {block['batch_id']}", 9, 3, 24)
        line(f"年份 Vintage {block['vintage']} · 方法学 Methodology {block['methodology']}", 9, 3, 24)
        line(f"批次默克尔根 Batch Merkle root: {block['merkle_root']}", 8, 10, 24)
    y -= 6
    line("验证 Verify", 13, 8)
    line(f"{base_url}{cert['url']}", 10, 4)
    line(
        "每个批次的默克尔根承诺了汇入该批次的全部减排行为；任何人可在公开登记簿中查询某一行为是否在批次内并核验证明。"
        " The batch's Merkle root commits to every behaviour pooled into it; anyone can check an event's inclusion"
        " proof in the public registry.",
        9,
        3,
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
