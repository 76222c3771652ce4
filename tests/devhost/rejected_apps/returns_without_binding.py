"""A queue function that returns a value though it declares no return binding: loads, but fails when invoked."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def returns_value(msg: func.QueueMessage) -> str:
    return "unexpected"
