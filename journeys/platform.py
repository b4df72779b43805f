"""The target platform as the journeys see it: base URL, anon key, synthetic accounts, and API calls for setup.

Setup through the API (a renewal to approve, a paid prescription to dispense) keeps each journey independent of
the others, so any one of them can run, fail or be retried alone. Accounts come from the end of the credentials
file: load runs take logins from the front, so journeys can run while a load run is in progress.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rxcore.credentials import Credential, CredentialsError, read_credentials

BASE_URL_ENV = "RXSUITE_JOURNEYS_BASE_URL"
ANON_KEY_ENV = "RXSUITE_JOURNEYS_ANON_KEY"
CREDENTIALS_ENV = "RXSUITE_JOURNEYS_CREDENTIALS"
SUCCEEDING_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
PAID_WAIT_S = 15.0


class TargetError(RuntimeError):
    """The target is not described well enough to run journeys; the message names what to set."""


Account = Credential  # one synthetic account of the credentials file


@dataclass(frozen=True)
class JourneyTarget:
    base_url: str
    anon_key: str
    accounts: tuple[Account, ...]

    @classmethod
    def from_environment(cls) -> JourneyTarget:
        """Read the target the runner hands over in environment variables (never on the command line)."""
        missing = [name for name in (BASE_URL_ENV, ANON_KEY_ENV, CREDENTIALS_ENV) if not os.environ.get(name)]
        if missing:
            raise TargetError(f"set {', '.join(missing)} (the `rxsuite journeys` command sets them for you)")
        return cls(os.environ[BASE_URL_ENV].rstrip("/"), os.environ[ANON_KEY_ENV],
                   read_accounts(Path(os.environ[CREDENTIALS_ENV])))

    def account(self, role: str, from_end: int) -> Account:
        """The ``from_end``-th account of ``role`` counted from the end of the file (1 = last)."""
        of_role = [a for a in self.accounts if a.role == role]
        if len(of_role) < from_end:
            raise TargetError(f"the credentials file has {len(of_role)} {role} accounts; the journeys need at least "
                              f"{from_end} (they use the last ones)")
        return of_role[-from_end]

    def by_user_id(self, user_id: str) -> Account:
        for account in self.accounts:
            if account.user_id == user_id:
                return account
        raise TargetError(f"no account with user_id {user_id} in the credentials file (it needs a user_id column)")


def read_accounts(path: Path) -> tuple[Account, ...]:
    try:
        return tuple(read_credentials(path))
    except CredentialsError as exc:
        raise TargetError(str(exc)) from None


class Api:
    """Just enough of the platform API for journey setup and for the security checks."""

    def __init__(self, target: JourneyTarget) -> None:
        self.target = target
        self.client = httpx.Client(base_url=target.base_url, timeout=15.0)

    def close(self) -> None:
        self.client.close()

    def token(self, account: Account) -> str:
        response = self.client.post("/auth/v1/token", params={"grant_type": "password"},
                                    headers={"apikey": self.target.anon_key},
                                    json={"email": account.email, "password": account.password})
        _check(response, f"sign in as {account.email}")
        return response.json()["access_token"]

    def headers(self, token: str) -> dict[str, str]:
        return {"apikey": self.target.anon_key, "Authorization": f"Bearer {token}"}

    def get(self, token: str, path: str, **params: str) -> Any:
        response = self.client.get(path, params=params, headers=self.headers(token))
        _check(response, f"GET {path}")
        return response.json()

    def prescriptions(self, token: str, **filters: str) -> list[dict[str, Any]]:
        return self.get(token, "/rest/v1/prescriptions", **filters)

    def request_renewal(self, patient_token: str) -> dict[str, Any]:
        """A fresh requested prescription of a medication the patient already has, for their usual doctor."""
        latest = self.prescriptions(patient_token, select="medication_id", order="created_at.desc", limit="1")
        if not latest:
            raise TargetError("the journey patient has no prescription to renew; use a seeded patient")
        response = self.client.post(
            "/rest/v1/prescriptions", json={"medication_id": latest[0]["medication_id"], "quantity": 1},
            headers={**self.headers(patient_token), "Prefer": "return=representation"})
        _check(response, "request a renewal")
        return response.json()[0]

    def set_status(self, token: str, prescription_id: str, status: str) -> None:
        response = self.client.patch("/rest/v1/prescriptions", params={"id": f"eq.{prescription_id}"},
                                     json={"status": status}, headers=self.headers(token))
        _check(response, f"set prescription {prescription_id} {status}")

    def pay(self, patient_token: str, prescription_id: str) -> None:
        """Pay with the succeeding test card and wait for the provider's webhook to mark the prescription paid."""
        intent = self.client.post("/functions/v1/create-payment-intent", json={"prescription_id": prescription_id},
                                  headers=self.headers(patient_token))
        _check(intent, "create a payment intent")
        confirmed = self.client.post(
            "/functions/v1/confirm-payment", headers=self.headers(patient_token),
            json={"payment_intent_id": intent.json()["payment_intent_id"], "card_number": SUCCEEDING_CARD})
        _check(confirmed, "confirm the payment")
        deadline = time.monotonic() + PAID_WAIT_S
        while time.monotonic() < deadline:
            if self.prescriptions(patient_token, id=f"eq.{prescription_id}", select="status")[0]["status"] == "paid":
                return
            time.sleep(0.2)
        raise TargetError(f"prescription {prescription_id} was not marked paid within {PAID_WAIT_S:g} s")


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 300:
        raise TargetError(f"{what}: HTTP {response.status_code}: {response.text[:300]}")
