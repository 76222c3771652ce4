"""ARM-shaped errors: one exception type the router turns into a CloudError response."""

from __future__ import annotations

import uuid
from typing import Any


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the offending key."""


class ArmError(Exception):
    """An error answered as ``{"error": {"code", "message", "target"?, "details"?}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return {"error": error}


def error_object(code: str, message: str, target: str | None = None) -> dict[str, Any]:
    """The ``Error`` object of a failed operation status (same shape as CloudError's inner error)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        error["target"] = target
    return error


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    """ARM's 404 for a missing resource, worded as ARM words it."""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def authorization_failed(caller: str | None, action: str, scope: str) -> ArmError:
    """ARM's 403 when the caller's role assignments lack ``action`` on ``scope`` (a scenario's ``denyActions``)."""
    client = caller or "00000000-0000-0000-0000-000000000000"
    object_id = uuid.uuid5(uuid.NAMESPACE_OID, client)  # the oid the emulator's tokens carry for that client
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{client}' with object id '{object_id}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials.",
    )


def check_scope(scenario: Any, params: dict[str, str], caller: str | None, action: str, resource: Any) -> None:
    """ARM's checks before a resource is found, in ARM's order: the caller's role on the resource (a scenario's
    ``denyActions``), then the subscription, then the resource group (``params``: the route's sub and rg)."""
    if resource is not None and action in resource.deny_actions:
        raise authorization_failed(caller, action, resource.id)
    if not scenario.has_subscription(params["sub"]):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{params['sub']}' could not be found.")
    if not scenario.has_resource_group(params["sub"], params["rg"]):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{params['rg']}' could not be found.")
