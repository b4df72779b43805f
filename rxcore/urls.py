"""Target URLs given by the user: credentials inside a URL are refused where the URL enters the suite.

A URL is copied into run.json, journeys.json, JUnit XML, logs and Playwright traces; a password in its userinfo
(``https://user:pass@host``) would go everywhere with it. `rxcore.redact` masks userinfo as a second line of
defence; this refusal is the first.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rxcore.errors import ConfigError

__all__ = ["refuse_url_credentials"]


def refuse_url_credentials(url: str, source: str, field: str) -> None:
    """Raise ConfigError naming ``source`` and ``field`` if ``url`` carries userinfo; the message never repeats the
    URL (it holds the secret)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return  # not a URL at all: the caller's own format check reports it
    if "@" in netloc:
        raise ConfigError(source, field, "the URL carries credentials (user:password@host), which would be copied "
                          "into run folders, logs and traces",
                          "remove them from the URL: the anon key belongs in the environment variable that "
                          "anon_key_env names, synthetic accounts in the CSV that credentials_csv_env names")
