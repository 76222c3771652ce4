"""A `$return` binding declared with the "in" direction."""

import azure.functions as func

app = func.FunctionApp()


@app.generic_input_binding(arg_name="$return", type="blob", path="c/b", connection="AzureWebJobsStorage")
@app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
def return_in(msg: func.QueueMessage) -> None:
    return None
