"""rxsuite's environment variables: one prefix, `RXSUITE_`, and the old `RX_` names for one more release.

Every variable the suite reads is read through `getenv`. A name that starts with `RXSUITE_` also answers to its
old spelling (`RXSUITE_LOAD_CONFIG` to `RX_LOAD_CONFIG`) when only the old one is set, and says once per process
on stderr that the old name is deprecated. Names an environment file chooses (`anon_key_env: ...`) go through
the same helper, so the shipped files could move to the new prefix without breaking a pipeline that exports the
old names. Deprecated in 0.1: the `RX_` spellings stop working in the next release.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

__all__ = ["ANON_KEY", "CREDENTIALS_CSV", "LOAD_CONFIG", "PREFIX", "getenv", "old_name"]

PREFIX = "RXSUITE_"
_OLD_PREFIX = "RX_"

LOAD_CONFIG = "RXSUITE_LOAD_CONFIG"  # the JSON settings file of a load run's Locust processes
ANON_KEY = "RXSUITE_ANON_KEY"  # the platform's anon key, handed to the Locust processes
CREDENTIALS_CSV = "RXSUITE_CREDENTIALS_CSV"  # the synthetic accounts' CSV (email,password,role[,user_id])

_warned: set[str] = set()


def old_name(name: str) -> str | None:
    """The deprecated spelling of a `RXSUITE_` name, None for any other name."""
    return _OLD_PREFIX + name.removeprefix(PREFIX) if name.startswith(PREFIX) else None


def getenv(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value (an empty value counts as unset), else its old spelling's with a warning, else default."""
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value:
        return value
    old = old_name(name)
    value = env.get(old) if old is not None else None
    if old is None or not value:
        return default
    if old not in _warned:
        _warned.add(old)
        print(f"rxsuite: environment variable {old} is deprecated and stops working in the next release; "
              f"rename it {name}", file=sys.stderr)
    return value
