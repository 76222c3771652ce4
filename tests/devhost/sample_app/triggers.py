"""Test-only starters: HTTP (management operations through the real client), queue and timer."""

import json
import logging

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.route(route="orchestrators/{name}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = req.params.get("instance_id")
    try:
        new_id = await client.start_new(req.route_params["name"], instance_id, payload)
    except Exception as exc:
        return func.HttpResponse(json.dumps({"error": str(exc)}), status_code=409, mimetype="application/json")
    return client.create_check_status_response(req, new_id)


@bp.route(route="ops/{op}/{instance_id?}", methods=["GET", "POST", "DELETE"])
@bp.durable_client_input(client_name="client")
async def http_ops(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    op, instance_id = req.route_params["op"], req.route_params.get("instance_id")
    result: object = None
    if op == "status":
        status = await client.get_status(instance_id, show_history=True, show_history_output=True)
        result = status.to_json() if status else None
        if status:
            result["historyEvents"] = getattr(status, "historyEvents", None)
    elif op == "terminate":
        await client.terminate(instance_id, "stopped by test")
    elif op == "raise":
        await client.raise_event(instance_id, "go", req.get_json())
    elif op == "purge":
        result = (await client.purge_instance_history(instance_id)).instances_deleted
    elif op == "purge_by":
        from datetime import UTC, datetime

        outcome = await client.purge_instance_history_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            runtime_status=[df.OrchestrationRuntimeStatus.Completed])
        result = outcome.instances_deleted
    elif op == "list":
        statuses = await client.get_status_by(runtime_status=[df.OrchestrationRuntimeStatus.Running])
        result = sorted(s.instance_id for s in statuses)
    elif op == "all":
        result = sorted(s.instance_id for s in await client.get_status_all())
    elif op == "suspend":
        await client.suspend(instance_id, "hold on")
    elif op == "resume":
        await client.resume(instance_id, "go on")
    elif op == "restart":
        result = await client.restart(instance_id, restart_with_new_instance_id=False)
    elif op == "payload":
        result = client.create_http_management_payload(instance_id)
    return func.HttpResponse(json.dumps(result, default=str), mimetype="application/json")


@bp.route(route="ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"pong {req.params.get('who', '')}".strip(), headers={"X-Devhost": "yes"})


@bp.route(route="secure/{item:int}", methods=["GET"])
def secure(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    body = {"item": req.route_params["item"], "function": context.function_name}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@bp.route(route="enqueue", methods=["POST"])
@bp.queue_output(arg_name="out", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, out: func.Out[str]) -> func.HttpResponse:
    out.set(req.get_body().decode())
    return func.HttpResponse(status_code=202)


@bp.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def queue_start(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    body = msg.get_json()
    if body.get("fail"):
        raise ValueError(f"rejected on dequeue {msg.dequeue_count}")
    await client.start_new("hello_sequence", body["id"], body["cities"])


@bp.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
@bp.durable_client_input(client_name="client")
async def tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    logging.info("tick past_due=%s", timer.past_due)
    await client.start_new("hello_sequence", None, ["tick", "past_due" if timer.past_due else "on_time"])
