"""Call user functions the way the Python worker does: keyword arguments by binding name, async functions on
one long-lived event loop (the SDK's aiohttp session is bound to the loop that created it), JSON converters
around activities.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import traceback
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from devhost import worker
from devhost.indexer import FunctionInfo

_loops: list[asyncio.AbstractEventLoop] = []
_loop_lock = threading.Lock()


def event_loop() -> asyncio.AbstractEventLoop:
    """The process-wide worker loop (a daemon thread), created on first use and shared by every DevHost."""
    with _loop_lock:
        if not _loops or _loops[-1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="devhost-asyncio", daemon=True).start()
            _loops.append(loop)
        return _loops[-1]


def run_coroutine(coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
    """Run `coro` on the worker loop from any other thread and wait for its result."""
    return asyncio.run_coroutine_threadsafe(coro, event_loop()).result(timeout)


def close_client_session() -> None:
    """Drop the SDK's shared aiohttp session, so no pooled keep-alive connection outlives a stopped host."""
    from azure.durable_functions.models.utils import http_utils

    closer = getattr(http_utils, "_close_session", None)
    if closer is not None and _loops and not _loops[-1].is_closed():
        run_coroutine(closer(), timeout=5)


def call(info: FunctionInfo, kwargs: dict[str, Any]) -> Any:
    """Invoke the indexed function with keyword arguments; await it on the worker loop if it is async."""
    fn = info.user_function
    accepted = _accepted_params(fn)
    if accepted is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    result = fn(**kwargs)
    if inspect.iscoroutine(result):
        result = run_coroutine(result)
    return result


def _accepted_params(fn: Any) -> set[str] | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None  # df_client_middleware takes **kwargs and forwards them to the user function
    return {p.name for p in params}


def decode_activity_input(info: FunctionInfo, input_json: str | None) -> Any:
    """The worker's decoding of the JSON text the extension passes as the activity's input."""
    return worker.decode_trigger(info.loaded, info.trigger_param, "json", input_json or "null")


def encode_activity_output(info: FunctionInfo, value: Any) -> str:
    """The worker's encoding of the activity's return value: the JSON text that becomes TaskCompleted.Result."""
    datum = worker.encode_return(info.loaded, value)
    return "null" if datum is None else str(datum.value)


def rpc_failure_text(exc: BaseException) -> str:
    """The host's RpcException message for a failed invocation: the worker sends `<Type>: <message>` and the
    stack, and the host writes `Result: Failure\nException: ...\nStack: ...` (WebJobs.Script RpcException)."""
    package = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(package)]
    stack = "".join(traceback.format_list(frames))
    return f"Result: Failure\nException: {type(exc).__name__}: {exc}\nStack: {stack}"


def friendly_message(rpc_text: str) -> str:
    """OutOfProcExceptionHelpers: the text between "\nException:" and "\nStack:" (its leading space kept)."""
    start = rpc_text.index("\nException:") + len("\nException:")
    return rpc_text[start:rpc_text.index("\nStack:")]


def task_failure(activity: str, exc: BaseException) -> tuple[str, str]:
    """TaskFailed's Reason and Details as TaskActivityShim writes them for an out-of-proc activity's exception.

    Reason is `Activity function '<name>' failed: <friendly message>`; Details is the serialized cause
    (Utils.SerializeCause: the friendly-message exception wrapping the host's RpcException).
    """
    rpc_text = rpc_failure_text(exc)
    friendly = friendly_message(rpc_text)
    cause = {"$type": "System.Exception, System.Private.CoreLib", "ClassName": "System.Exception",
             "Message": friendly, "InnerException": {"ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc."
                                                                   "RpcException", "Message": rpc_text}}
    return f"Activity function '{activity}' failed: {friendly}", json.dumps(cause)
