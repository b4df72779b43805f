"""Logins for the load users: a pool per role, each login held by at most one user at a time.

The CSV (`email,password,role[,user_id]`) is the sandbox's credentials file or one named by `RXSUITE_CREDENTIALS_CSV`.
With several worker processes each takes every N-th row (by its worker index), so no two processes ever use the
same login either.
"""

from __future__ import annotations

from collections import deque

from rxcore.credentials import ROLES, Credential, CredentialsError, read_credentials

__all__ = ["Credential", "CredentialPool", "CredentialsError", "PoolExhausted", "read_credentials"]


class PoolExhausted(RuntimeError):
    """More concurrent users of a role than logins in this process's share of the file."""


class CredentialPool:
    def __init__(self, credentials: list[Credential], process_index: int = 0, processes: int = 1) -> None:
        if processes > 1:
            credentials = [c for i, c in enumerate(credentials) if i % processes == process_index]
        self._free: dict[str, deque[Credential]] = {role: deque() for role in ROLES}
        for cred in credentials:
            self._free[cred.role].append(cred)
        self._size = {role: len(q) for role, q in self._free.items()}

    def acquire(self, role: str) -> Credential:
        free = self._free[role]
        if not free:
            raise PoolExhausted(f"all {self._size[role]} {role} logins of this process are in use; lower the "
                                f"{role} weight or the user count, or add {role} rows to the credentials file")
        return free.popleft()

    def release(self, credential: Credential) -> None:
        self._free[credential.role].append(credential)

    def size(self, role: str) -> int:
        return self._size[role]

    def available(self, role: str) -> int:
        return len(self._free[role])
