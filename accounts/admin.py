"""GoTrue's admin users API, the calls the accounts job makes, with the service-role key.

`POST /auth/v1/admin/users` (the role in `app_metadata.rx_role`, which only the service role can set, so a user
cannot promote themself), `GET /auth/v1/admin/users/{id}` and `DELETE /auth/v1/admin/users/{id}`, hard or soft
(`{"should_soft_delete": true}`, supabase-js's `auth.admin.deleteUser(id, true)`). Errors keep GoTrue's own
message.
"""

from __future__ import annotations

from typing import Any

import httpx

from rxcore.supabase_api import api_headers

__all__ = ["AdminError", "create_user", "delete_user", "get_user"]


class AdminError(Exception):
    """The admin API refused a call; the message is GoTrue's, with the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def create_user(client: httpx.Client, service_key: str, email: str, password: str, role: str) -> str:
    """Create a confirmed user with the role; its id."""
    response = client.post("/auth/v1/admin/users", headers=api_headers(service_key), json={
        "email": email, "password": password, "email_confirm": True,
        "app_metadata": {"rx_role": role}, "user_metadata": {"display_name": email.split("@")[0], "synthetic": True},
    })
    body = _json(response)
    if response.status_code not in (200, 201) or not isinstance(body.get("id"), str):
        raise AdminError(response.status_code, _message(body, response))
    return str(body["id"])


def get_user(client: httpx.Client, service_key: str, user_id: str) -> dict[str, Any] | None:
    """GoTrue's user object (a soft-deleted one too, with `deleted_at`); None when there is no such user (404)."""
    response = client.get(f"/auth/v1/admin/users/{user_id}", headers=api_headers(service_key))
    if response.status_code == 404:
        return None
    body = _json(response)
    if response.status_code != 200 or not body:
        raise AdminError(response.status_code, _message(body, response))
    return body


def delete_user(client: httpx.Client, service_key: str, user_id: str, *, soft: bool = False) -> bool:
    """Delete the user; False when it was already gone (404). Soft: GoTrue keeps the row (for the rows that
    reference it) but the user can never sign in again; a user already soft-deleted is answered 200 again."""
    response = client.request("DELETE", f"/auth/v1/admin/users/{user_id}", headers=api_headers(service_key),
                              json={"should_soft_delete": True} if soft else None)
    if response.status_code == 404:
        return False
    if response.status_code not in (200, 204):
        raise AdminError(response.status_code, _message(_json(response), response))
    return True


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], response: httpx.Response) -> str:
    for key in ("msg", "message", "error_description", "error"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return response.reason_phrase or "no message"
