"""A Python parameter that no binding declares."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def extra_param(msg: func.QueueMessage, extra: str) -> None:
    return None
