"""A queue output binding whose parameter is annotated `str`, not `func.Out[str]`."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_output(arg_name="sent", queue_name="out", connection="AzureWebJobsStorage")
@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def plain_output(msg: func.QueueMessage, sent: str) -> None:
    return None
