"""Reading NDES's mscep_admin page as an administrator's browser would: the body is UTF-16LE
(with or without a byte-order mark) although its <meta> says UTF-8."""

from __future__ import annotations

import re

PASSWORD = re.compile(r"password is:\s*<B>\s*([0-9A-F]+)\s*</B>", re.IGNORECASE)


def page_text(content: bytes) -> str:
    if content[:2] in (b"\xff\xfe", b"<\x00"):
        return content.decode("utf-16-le").lstrip("\ufeff")
    return content.decode("utf-8", errors="replace")


def password_on_page(content: bytes) -> str | None:
    """The one-time password the page shows, or None (e.g. "The password cache is full.")."""
    found = PASSWORD.search(page_text(content))
    return found.group(1) if found else None
