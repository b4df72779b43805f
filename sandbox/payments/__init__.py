"""A payment-provider stub with Stripe's API shape: payment intents, test cards, signed webhooks, chaos switches.

Run: `RXSUITE_PAYMENT_SECRET_KEY=sk_test_... python -m sandbox.payments --host 127.0.0.1 --port 18200`.
"""
