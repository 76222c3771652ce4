"""Composition root: creates the Durable Functions app and registers every blueprint. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
