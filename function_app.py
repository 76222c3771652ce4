"""Composition root: creates the Durable Functions app and registers every blueprint. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import jobs, recovery_points, restore_ops
from orchestrations import job_tracking, restore
from triggers import http, queue

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    recovery_points.bp, restore_ops.bp, jobs.bp,
    restore.bp, job_tracking.bp,
    http.bp, queue.bp,
):
    app.register_functions(blueprint)
