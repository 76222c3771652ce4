"""Composition root: checks the settings once, creates the Durable Functions app, registers every blueprint."""

import logging

import azure.durable_functions as df
import azure.functions as func

from activities import (
    drill_load,
    drill_results,
    drills,
    jobs,
    load,
    load_files,
    notify,
    preflight,
    recovery_points,
    restore_ops,
    telemetry,
)
from orchestrations import drill, job_tracking, restore
from orchestrations import load as load_orchestration
from pgflex_restore.settings import validate_at_startup
from triggers import drills_http, http, openapi_http, preflight_http, queue, timer

validate_at_startup(logging.getLogger("pgflex_restore"))

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    recovery_points.bp, restore_ops.bp, jobs.bp, telemetry.bp, preflight.bp,
    restore.bp, job_tracking.bp,
    load.bp, load_files.bp, load_orchestration.bp,
    http.bp, preflight_http.bp, queue.bp,
    drills.bp, drill_results.bp, drill_load.bp, drill.bp, timer.bp, drills_http.bp,
    openapi_http.bp,
    notify.bp,
):
    app.register_functions(blueprint)
