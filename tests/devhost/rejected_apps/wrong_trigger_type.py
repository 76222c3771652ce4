"""A queue trigger whose parameter is annotated with a type the queue converter cannot produce."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def queue_as_int(msg: int) -> None:
    return None
