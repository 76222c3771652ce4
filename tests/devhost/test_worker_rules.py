"""devhost loads apps through the Python worker's own code: what the worker refuses, devhost refuses, in its words."""

from __future__ import annotations

import azure.functions as func
import pytest

from devhost import DevHost, IndexingError

# Each message is the worker's text (azure-functions-runtime's Registry and loader), pinned in requirements-worker.txt.
REFUSALS = {
    "non_type_annotation":
        "cannot load the builtin_generic function: binding payload has invalid non-type annotation "
        "dict[str, typing.Any]",
    "return_not_out": 'cannot load the return_in function: "$return" binding must have direction set to "out"',
    "out_not_annotated_out":
        'cannot load the plain_output function: binding sent is declared to have the "out" direction, but its '
        "annotation in Python is not a subclass of azure.functions.Out",
    "in_annotated_out":
        'cannot load the trigger_as_out function: binding msg is declared to have the "in" direction in the '
        "binding decorator, but its annotation is azure.functions.Out in Python",
    "undeclared_parameter":
        "cannot load the extra_param function: the following parameters are declared in Python but not in the "
        "function definition (function.json or function decorators):  {'extra'}",
    "missing_parameter":
        "cannot load the no_out_param function: Extra parameters in binding definition — the following parameters "
        "are declared as bindings but are not present in Python: {'sent'}",
    "context_not_context":
        'cannot load the odd_context function: the "context" parameter is expected to be of type '
        "azure.functions.Context, got \"<class 'str'>\"",
    "wrong_trigger_type":
        "cannot load the queue_as_int function: binding type \"'msg'\" and dataType \"queueTrigger\" in the binding "
        "decorator do not match the corresponding function parameter's Python type annotation int",
    "two_apps": "More than one FunctionApp or other top level function app instances are defined.",
}


@pytest.mark.parametrize("module", sorted(REFUSALS))
def test_a_function_the_worker_refuses_fails_devhost_load_with_the_workers_message(module: str) -> None:
    with pytest.raises(IndexingError) as refused:
        DevHost.load(f"rejected_apps.{module}")
    assert str(refused.value) == REFUSALS[module]


def test_a_value_returned_without_a_return_binding_fails_the_invocation_as_in_the_worker() -> None:
    host = DevHost.load("rejected_apps.returns_without_binding")
    info = host.functions["returns_value"]
    with pytest.raises(RuntimeError, match="without a \\$return binding returned a non-None value"):
        host.bindings.invoke(info, func.QueueMessage(body=b"{}"))

