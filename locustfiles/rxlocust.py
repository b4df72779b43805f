"""The Locust entry point of every rxsuite load run: `locust -f locustfiles/rxlocust.py` (`rxsuite load` runs it).

It exposes only the user models the run's settings give a weight, and the profile shape; the plugin hooks the
recorder into Locust's events. Settings come from the JSON file named by RX_LOAD_CONFIG (see config.py).
"""

from locustfiles.plugin import RxShape, register

globals().update({cls.__name__: cls for cls in register()})

__all__ = ["RxShape"]
