"""Everything around one invocation besides the trigger: durable client bindings, the invocation context,
and output bindings (Azure Storage queues) written after the function returns, as the host does.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.functions import _abc
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devhost import invoke, worker
from devhost.indexer import FunctionInfo, HostSettings, resolve_setting


class InvocationContext(_abc.Context):
    """The `context: func.Context` argument (invocation id, function name and directory)."""

    def __init__(self, name: str, directory: str) -> None:
        self._id = str(uuid.uuid4())
        self._name = name
        self._directory = directory

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def thread_local_storage(self) -> type[threading.local]:
        return threading.local  # pragma: no cover - the worker's own type; nothing in devhost uses it

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> _abc.TraceContext:
        raise NotImplementedError("devhost has no distributed tracing context")

    @property
    def retry_context(self) -> _abc.RetryContext:
        raise NotImplementedError("devhost has no retry policies")


def _messages(value: Any) -> list[str]:
    """Queue messages from an output value (str, bytes, QueueMessage, dict/JSON, or a list of those)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        return [value.decode("utf-8")]
    if isinstance(value, func.QueueMessage):
        return [value.get_body().decode("utf-8")]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _messages(item)]
    return [json.dumps(value)]


class Bindings:
    """Builds the keyword arguments of an invocation and writes its output bindings afterwards."""

    def __init__(self, client_binding: Callable[[], str], settings: Callable[[], HostSettings],
                 storage_connection_string: str | None, app_dir: str) -> None:
        self.client_binding = client_binding
        self.settings = settings
        self.storage_connection_string = storage_connection_string
        self.app_dir = app_dir

    def invoke(self, info: FunctionInfo, trigger_value: Any) -> Any:
        """Call `info` as the worker does: trigger value, clients, `context` where the worker passes one, `Out`
        objects; then the worker's return checks, and output bindings written as the host writes them."""
        loaded = info.loaded
        kwargs: dict[str, Any] = {info.trigger_param: trigger_value}
        for name in info.client_params:
            kwargs[name] = worker.decode_trigger(loaded, name, "string", self.client_binding())
        outs = worker.out_params(loaded)
        kwargs.update(outs)
        if loaded.requires_context:
            kwargs["context"] = InvocationContext(info.name, self.app_dir)
        returned = invoke.call(info, kwargs)
        worker.check_returned(loaded, returned)
        for binding in info.bindings:
            if binding.get("direction") != "OUT":
                continue
            name = str(binding["name"])
            value = returned if name == "$return" else outs[name].get()
            if binding.get("type") == "queue":
                self._send_queue(info, binding, value)
        return returned

    def _send_queue(self, info: FunctionInfo, binding: dict[str, Any], value: Any) -> None:
        from devhost.queues import resolve_connection

        messages = _messages(value)
        if not messages:
            return
        connection = resolve_connection(info, self.storage_connection_string, binding)
        name = resolve_setting(str(binding["queueName"]), what=f"{info.name} queue output").lower()
        policy = TextBase64EncodePolicy() if self.settings().message_encoding == "base64" else None
        with QueueClient.from_connection_string(connection, name, message_encode_policy=policy) as client:
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()
            for message in messages:
                client.send_message(message)
