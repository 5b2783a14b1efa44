"""The pages the connect endpoint serves: plain HTML, one inline stylesheet allowed by its hash.

No script, no image, no external asset; every value is HTML-escaped; nothing on a page is a token,
a code or key material. The "Continue" button is a plain link (a top-level navigation, which CSP
does not restrict), so ``form-action 'none'`` holds too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "color:#1b1f24}h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.3rem 1rem}dt{color:#57606a}dd{margin:0;overflow-wrap:anywhere}"
    ".btn{display:inline-block;margin-top:1.2rem;padding:.7rem 1.4rem;background:#0969da;"
    "color:#fff;border-radius:6px;text-decoration:none;font-weight:600}"
    ".ok{color:#1a7f37}.bad{color:#cf222e}.note{color:#57606a;font-size:.9rem}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src 'none'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    html: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> dict[str, object]:
        """A Lambda Function URL (payload 2.0) response.

        The cookie rides in a Set-Cookie header, not in the payload's ``cookies`` list: a page
        sets at most one cookie, which a header carries on AWS too, and LocalStack's Function
        URLs pass headers through but not that list."""
        return {
            "statusCode": self.status,
            "headers": {**SECURITY_HEADERS, **self.headers},
            "body": self.html,
        }


def _doc(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def _facts(rows: Mapping[str, str]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows.items())
    return f"<dl>{items}</dl>"


def landing(
    facts: Mapping[str, str], platform_label: str, href: str, cookie: str, *, pinned: bool
) -> Page:
    title = f"Connect {platform_label}"
    who = (
        "Sign in with the account named above."
        if pinned
        else "Any account you sign in with will be accepted and recorded for this connection."
    )
    body = (
        f"<h1>{escape(title)}</h1>"
        "<p>You were sent this link to sign in to the platform and give the token refresher "
        "access again. Check the details, then continue.</p>"
        f"{_facts(facts)}"
        f'<a class="btn" href="{escape(href, quote=True)}">Continue to {escape(platform_label)}</a>'
        f'<p class="note">{who} The link works once and only in this browser.</p>'
    )
    return Page(200, title, _doc(title, body), {"Set-Cookie": cookie})


def success(facts: Mapping[str, str], clear_cookie: str) -> Page:
    title = "Connected"
    body = (
        f'<h1 class="ok">{title}</h1><p>The new authorization was checked with the platform and '
        "stored. The token refresher keeps it alive from now on; you can close this page.</p>"
        f"{_facts(facts)}"
    )
    return Page(200, title, _doc(title, body), {"Set-Cookie": clear_cookie} if clear_cookie else {})


def failure(status: int, title: str, what: str, todo: str, clear_cookie: str | None = None) -> Page:
    body = (
        f'<h1 class="bad">{escape(title)}</h1><p>{escape(what)}</p>'
        f"<p><strong>What to do:</strong> {escape(todo)}</p>"
        '<p class="note">Nothing was changed.</p>'
    )
    headers = {"Set-Cookie": clear_cookie} if clear_cookie else {}
    return Page(status, title, _doc(title, body), headers)
