"""A TCP fault proxy with a Toxiproxy-compatible HTTP API subset, so Toxiproxy scenarios run unchanged.

Run: `python -m sandbox.faultproxy --host 127.0.0.1 --port 18474 [--config proxies.json]`.
"""
