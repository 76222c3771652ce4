"""A binding (a queue output) with no Python parameter of its name."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_output(arg_name="sent", queue_name="out", connection="AzureWebJobsStorage")
@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def no_out_param(msg: func.QueueMessage) -> None:
    return None
