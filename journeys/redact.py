"""Keep secrets out of the journeys' run folder: a Playwright trace records typed passwords, request bodies, cookies
and DOM snapshots (which hold the page's access token), and error messages may quote URLs carrying the anon key.

`Redactor` is the project's one redactor (`rxcore.redact.Scrubber`: known secrets and their URL-encoded forms,
credential-looking environment values, JWTs and other credential shapes) applied to files and inside trace zips,
before anyone reads them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from rxcore.redact import Scrubber

__all__ = ["Redactor"]

_IMAGES = (".png", ".jpeg", ".jpg", ".webp")


class Redactor(Scrubber):
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
                if not member.filename.lower().endswith(_IMAGES):
                    content = self.data(content)
                target.writestr(member, content)
        temporary.replace(path)
