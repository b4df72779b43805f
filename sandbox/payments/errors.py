"""Stripe-shaped errors: `{"error": {"type", "message", "code"?, "param"?, "decline_code"?, ...}}`."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answered with HTTP `status` and Stripe's error envelope."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "message": message}
        if code is not None:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param is not None:
            self.error["param"] = param
        self.error.update(extra)

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


def missing_param(param: str) -> StripeError:
    return invalid_request(f"Missing required param: {param}.", code="parameter_missing", param=param)
