"""The last line of defence against secrets in report files: every string of the report model and every output
file's text passes through `rxcore.redact.Scrubber` (the project's one redactor) before it is written.

Run folders are already redacted by field name (`rxcore.redact.redact`); the scrubber catches what field names
miss: the values of credential-looking environment variables and of secrets the caller knows (sandbox keys), and
anything shaped like a credential.
"""

from __future__ import annotations

from rxcore.redact import Scrubber

__all__ = ["Scrubber"]
