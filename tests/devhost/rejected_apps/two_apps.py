"""Two top-level function apps in one module."""

import azure.functions as func

app = func.FunctionApp()
other = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def only(msg: func.QueueMessage) -> None:
    return None
