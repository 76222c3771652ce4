"""The Python worker's own code, run by devhost: app discovery, function-load validation and binding conversion.

On Azure the language worker imports function_app.py, collects its functions and loads each one through
`Registry.add_indexed_function`; one `FunctionLoadError` there fails the app's indexing, and the host then serves
no function at all. devhost runs that same code (the `azure-functions-runtime` package, the worker's logic as a
library) instead of rules of its own, so an app devhost accepts is an app the worker accepts, and a refusal
carries the worker's own words. Invocation follows the worker too: arguments come from the loaded function's
input types, `context` only where the worker would pass one, `Out` objects for output bindings, the return value
encoded by the worker's converter, and a value returned by a function with no return binding is an error.

Only the gRPC layer is not run: the few enum numbers the worker compares with (`BindingInfo.Direction` and
`DataType` of FunctionRpc.proto) are given here, and a `TypedData` holds the one field devhost fills.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from azure_functions_runtime import functions as worker_functions
from azure_functions_runtime import loader as worker_loader
from azure_functions_runtime.bindings import meta as worker_meta
from azure_functions_runtime.bindings.out import Out

from devhost.errors import IndexingError

# FunctionRpc.proto: BindingInfo.Direction {in = 0; out = 1; inout = 2}, BindingInfo.DataType {undefined = 0, ...}
PROTOS = SimpleNamespace(BindingInfo=SimpleNamespace(in_=0, out=1, inout=2, undefined=0, string=1, binary=2,
                                                      stream=3))

worker_meta.load_binding_registry()


@dataclass(frozen=True)
class _TypedData:
    """The one-field `TypedData` message the host sends for a trigger value ('json', 'string' or 'bytes')."""

    kind: str
    value: Any

    def WhichOneof(self, group: str) -> str:  # the protobuf method the worker calls
        return self.kind

    def __getattr__(self, name: str) -> Any:
        if name == self.kind:
            return self.value
        raise AttributeError(name)


@dataclass(frozen=True)
class _ParameterBinding:
    """`ParameterBinding { name, data }` as it arrives in an InvocationRequest."""

    name: str
    data: _TypedData

    def WhichOneof(self, group: str) -> str:  # the protobuf method the worker calls
        return "data"


def discover(module_name: str) -> list[Any]:
    """Import the module and collect its functions exactly as the worker does (one FunctionRegister, or refuse).

    The worker indexes once per process; devhost may load one module many times, and `get_functions()` remembers
    the names it returned, so each FunctionRegister's duplicate tracker is reset first.
    """
    from azure.functions import FunctionRegister

    for value in vars(importlib.import_module(module_name)).values():
        if isinstance(value, FunctionRegister):
            value.functions_bindings = None
    try:
        return list(worker_loader.index_function_app(f"{module_name}.py"))
    except ValueError as exc:
        raise IndexingError(str(exc)) from exc


def find_app(module_name: str) -> Any:
    """The FunctionRegister the worker found in the (already imported) module."""
    from azure.functions import FunctionRegister

    module = importlib.import_module(module_name)
    return next(value for value in vars(module).values() if isinstance(value, FunctionRegister))


def load(functions: list[Any]) -> dict[str, Any]:
    """Load every function through the worker's Registry; the first refusal fails, with the worker's message."""
    registry = worker_functions.Registry()
    loaded: dict[str, Any] = {}
    for function in functions:
        try:
            info = registry.add_indexed_function(function=function, protos=PROTOS)
        except worker_functions.FunctionLoadError as exc:
            raise IndexingError(str(exc)) from exc
        loaded[info.name] = info
    return loaded


def decode_trigger(loaded: Any, param: str, kind: str, value: Any) -> Any:
    """The worker's `from_incoming_proto` for a trigger value the host sent as TypedData of `kind`."""
    type_info = loaded.input_types[param]
    return worker_meta.from_incoming_proto(type_info.binding_name, _ParameterBinding(param, _TypedData(kind, value)),
                                           trigger_metadata=None, pytype=type_info.pytype,
                                           function_name=loaded.name,
                                           is_deferred_binding=type_info.deferred_bindings_enabled)


def encode_return(loaded: Any, value: Any) -> Any:
    """The worker's conversion of a return value (a Datum: `.type`, `.value`); None for no return binding."""
    if loaded.return_type is None:
        return None
    return worker_meta.get_datum(loaded.return_type.binding_name, value, loaded.return_type.pytype)


def check_returned(loaded: Any, value: Any) -> None:
    """The worker refuses a non-None result from a function that declares no return binding."""
    if value is not None and not loaded.has_return:
        raise RuntimeError(f"function {loaded.name!r} without a $return binding returned a non-None value")


def out_params(loaded: Any) -> dict[str, Out]:
    """One fresh `Out` per output binding, as the worker passes them."""
    return {name: Out() for name in loaded.output_types}


def is_async(loaded: Any) -> bool:
    return bool(loaded.is_async) or inspect.iscoroutinefunction(loaded.func)
