"""Keep secrets out of the run folder: a Playwright trace records typed passwords, request bodies, cookies and DOM
snapshots (which hold the page's access token), and error messages may quote URLs carrying the anon key.

Known secret strings (and their URL-encoded forms) and anything shaped like a JWT are replaced by ``[redacted]``
in text files and inside trace zips before anyone reads them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        forms = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_LENGTH:
                forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
        self._needles = sorted((form.encode() for form in forms), key=len, reverse=True)

    def data(self, raw: bytes) -> bytes:
        for needle in self._needles:
            if needle in raw:
                raw = raw.replace(needle, MASK.encode())
        return _JWT.sub(MASK.encode(), raw)

    def text(self, value: str) -> str:
        return self.data(value.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")

    def file(self, path: Path) -> None:
        raw = path.read_bytes()
        clean = self.data(raw)
        if clean != raw:
            path.write_bytes(clean)

    def zip(self, path: Path) -> None:
        """Rewrite a zip (a Playwright trace) with every member redacted; images are left as they are."""
        temporary = path.with_name(f".{path.name}.tmp")
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
            for member in source.infolist():
                content = source.read(member)
                if not member.filename.lower().endswith((".png", ".jpeg", ".jpg", ".webp")):
                    content = self.data(content)
                target.writestr(member, content)
        temporary.replace(path)
