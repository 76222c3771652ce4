"""Test-only composition root, shaped like the project's function_app.py."""

import azure.durable_functions as df
import azure.functions as func
from sample_app import activities, orchestrations, triggers

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(activities.bp)
app.register_functions(orchestrations.bp)
app.register_functions(triggers.bp)
