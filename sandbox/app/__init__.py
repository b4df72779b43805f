"""The sandbox's platform app: a small, real Supabase-shaped back end (auth, REST, functions, Realtime, pages).

One uvicorn process per region; started with ``python -m sandbox.app --host H --port P``.
"""
