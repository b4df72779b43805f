"""The embedded reference platform, a plug-in (the `sandbox` extra): it registers the `sandbox` environment kind and
chaos driver through entry points (sandbox/plugin.py), and nothing outside the CLI imports it.

Importing it without its extra's dependencies fails at once with the command that installs them, rather than deep
inside a part's start-up.
"""

from importlib.util import find_spec

_NEEDS = {"fastapi": "fastapi", "uvicorn": "uvicorn", "psycopg": "psycopg", "psycopg_pool": "psycopg-pool",
          "multipart": "python-multipart", "jwt": "pyjwt"}
_missing = sorted(dist for module, dist in _NEEDS.items() if find_spec(module) is None)
if _missing:
    raise ImportError(f"the sandbox needs its extra ({', '.join(_missing)} not installed): "
                      "pip install -e '.[sandbox]' (make venv does)", name="sandbox")
