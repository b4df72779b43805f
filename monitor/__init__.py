"""`rxsuite monitor`: synthetic checks (API probes, smoke journeys) on a schedule against a live environment.

The checks' outcomes go into the environment's long-lived record (slo.monitorstore); this package decides when
checks run, what they are, when a check is called down ("x failures of the last y"), which results fall in a
maintenance window, what evidence a failure keeps, and what `/metrics` shows while it runs.
"""
