"""An activity whose input is annotated with a builtin generic (`dict[str, Any]`): not a class to the worker."""

from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.activity_trigger(input_name="payload")
def builtin_generic(payload: dict[str, Any]) -> None:
    return None
