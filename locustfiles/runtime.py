"""What the users of one Locust process share: the run's settings, the anon key, the login pool, the schedule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from locustfiles.config import ANON_KEY_ENV, CREDENTIALS_ENV, LoadConfig, current
from locustfiles.credentials import CredentialPool, read_credentials
from locustfiles.pacing import ArrivalSchedule
from rxcore import envvars


class RunState:
    def __init__(self, config: LoadConfig, environment: Any = None) -> None:
        self.config = config
        self.environment = environment
        self.schedule = ArrivalSchedule()
        self.problems: Counter[str] = Counter()
        self._pool: CredentialPool | None = None

    @property
    def anon_key(self) -> str:
        key = envvars.getenv(ANON_KEY_ENV)
        if not key:
            raise RuntimeError(f"{ANON_KEY_ENV} is not set: the load users need the platform's anon key")
        return key

    @property
    def pool(self) -> CredentialPool:
        """Built on first use, when a worker already knows its index among the run's processes."""
        if self._pool is None:
            path = envvars.getenv(CREDENTIALS_ENV)
            if not path:
                raise RuntimeError(f"{CREDENTIALS_ENV} is not set: name the credentials CSV (email,password,role)")
            runner = getattr(self.environment, "runner", None)
            index = max(0, getattr(runner, "worker_index", 0) or 0)
            processes = max(1, self.config.processes)
            self._pool = CredentialPool(read_credentials(Path(path)), index % processes, processes)
        return self._pool

    def note_problem(self, message: str) -> None:
        self.problems[message] += 1


_STATE: RunState | None = None


def init(environment: Any, config: LoadConfig | None = None) -> RunState:
    global _STATE
    _STATE = RunState(config or current(), environment)
    return _STATE


def state() -> RunState:
    if _STATE is None:
        raise RuntimeError("the load plugin is not initialised: run users through locustfiles/rxlocust.py")
    return _STATE
