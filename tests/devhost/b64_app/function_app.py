"""Test-only app with host.json's default (base64) queue message encoding."""

import azure.functions as func

app = func.FunctionApp()
received: list[dict[str, object]] = []


@app.queue_trigger(arg_name="msg", queue_name="%B64_QUEUE%", connection="AzureWebJobsStorage")
def on_message(msg: func.QueueMessage) -> None:
    received.append({"body": msg.get_body(), "id": msg.id, "dequeue_count": msg.dequeue_count,
                     "inserted": msg.insertion_time})
    if msg.get_body() == b"fail":
        raise RuntimeError("refused")
