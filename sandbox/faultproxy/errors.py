"""The API's error type, rendered as Toxiproxy renders errors: `{"error": message, "status": code}`."""

from __future__ import annotations


class ApiError(Exception):
    """An error the HTTP API answers with `status`."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "status": self.status}


def bad_request(message: str) -> ApiError:
    return ApiError(message, 400)


PROXY_NOT_FOUND = "proxy not found"
TOXIC_NOT_FOUND = "toxic not found"
