"""The one reader of credentials files: `email,password,role[,user_id]` rows of synthetic accounts, as the
sandbox writes them and as an operator supplies them for staging. The load users and the journeys read it."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLES", "Credential", "CredentialsError", "read_credentials", "write_credentials"]

ROLES = ("patient", "doctor", "pharmacist")
_REQUIRED = ("email", "password", "role")


class CredentialsError(ValueError):
    """A credentials file that cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Credential:
    email: str
    password: str
    role: str
    user_id: str = ""


def read_credentials(path: Path) -> list[Credential]:
    """Every row of the file; an unreadable file, a missing column or an unknown role is a `CredentialsError`."""
    try:
        with open(path, newline="", encoding="utf-8") as src:
            reader = csv.DictReader(src)
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise CredentialsError(f"{path}: missing column(s) {', '.join(missing)} "
                                       "(the header must include email,password,role; user_id is optional)")
            rows = []
            for line, row in enumerate(reader, start=2):
                if row["role"] not in ROLES:
                    raise CredentialsError(f"{path}:{line}: role {row['role']!r} is not one of {', '.join(ROLES)}")
                rows.append(Credential(row["email"], row["password"], row["role"], row.get("user_id") or ""))
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path}: cannot read the credentials file ({exc}); point the credentials "
                               "variable at a UTF-8 CSV of synthetic accounts") from None
    return rows


def write_credentials(path: Path, rows: list[Credential], overwrite: bool = False) -> None:
    """Write the rows as `email,password,role,user_id`, owner-only (mode 600) from the first byte; an existing
    file is kept (FileExistsError) unless `overwrite`, and then replaced whole (write beside it, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(f".{path.name}.new") if overwrite else path
    if overwrite:
        target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(("email", "password", "role", "user_id"))
        writer.writerows((row.email, row.password, row.role, row.user_id) for row in rows)
    if overwrite:
        os.replace(target, path)
