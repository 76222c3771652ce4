"""An input binding (the trigger) whose parameter is annotated `func.Out[...]`."""

import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def trigger_as_out(msg: func.Out[str]) -> None:
    return None
