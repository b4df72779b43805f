"""The pre-flight job (`rxsuite env check`): is a target ready for a run? Also the cheap checks at the start of
load, journeys and drill plans."""
