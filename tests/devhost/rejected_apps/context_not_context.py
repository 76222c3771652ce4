"""A `context` parameter annotated with something other than azure.functions.Context."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def odd_context(msg: func.QueueMessage, context: str) -> None:
    return None
