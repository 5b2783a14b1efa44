"""`make fleet`: the real engines (sweep, starter, rotation steps, liveness, failure policy, alerts)
on a simulated clock against a quota-enforcing Secrets Manager model and per-platform models.
``model.py`` the models, ``sim.py`` the run, ``report.py`` docs/fleet.md. Not shipped."""
