"""Stripe's test cards and test payment methods, with the outcome each one produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    decline_code: str | None = None  # None: the charge succeeds
    decline_message: str = "Your card was declined."

    @property
    def last4(self) -> str:
        return self.number[-4:]


CARDS: dict[str, Card] = {
    card.number: card
    for card in (
        Card("4242424242424242", "visa"),
        Card("4000056655665556", "visa"),
        Card("5555555555554444", "mastercard"),
        Card("378282246310005", "amex"),
        Card("4000000000000002", "visa", "generic_decline"),
        Card("4000000000009995", "visa", "insufficient_funds", "Your card has insufficient funds."),
        Card("4000000000009987", "visa", "lost_card"),
        Card("4000000000009979", "visa", "stolen_card"),
    )
}

# Stripe's ready-made test PaymentMethod ids.
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
}
