"""The scaffolding shared by wiredesk's static HTML pages (the Data Docs and the run report).

Input: a page's title, its body (HTML) and its CSS. Output: one standalone HTML document: inline
CSS, no script, nothing loaded from another host, the title HTML-escaped. Also the escaping every
value on those pages goes through and the CSS rules both page families open with (text, headings,
tables). Quarantines nothing; pure (no I/O, no Prefect). A leaf: imports nothing of wiredesk.
"""

from __future__ import annotations

import html
from typing import Any


def esc(value: Any) -> str:
    """`value` as text, safe in HTML content and in a quoted attribute (results and run records
    quote scraped text)."""
    return html.escape(str(value), quote=True)


def base_css(*, max_width: int, h3_margin: str) -> str:
    """The CSS a page opens with: body text, headings and table cells. It ends with the header
    cells' rule, not a line end, so that a page's own rules can continue that line."""
    return (
        "\nbody{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;"
        f"max-width:{max_width}px;color:#1d2733;\n"
        "padding:0 1rem}\n"
        "h1{font-size:1.5rem}"
        "h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}\n"
        f"h3{{font-size:1rem;margin:{h3_margin} 0 .25rem}}\n"
        "table{border-collapse:collapse;margin:.5rem 0;font-size:13px}\n"
        "td,th{border:1px solid #d5dbe1;padding:.25rem .5rem;text-align:left;vertical-align:top}\n"
        "th{background:#eef2f6}"
    )


def page(title: str, body: str, css: str) -> str:
    """A whole HTML document: `title` (escaped here), `css` inline, `body` as given."""
    # The empty data: icon stops the browser from asking for /favicon.ico.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{esc(title)}</title>'
        f"<style>{css}</style></head><body>\n{body}\n</body></html>\n"
    )
