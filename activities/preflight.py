"""Pre-flight activities: one ARM read each (a list: its pages), answered in the ``{"ok": ...}`` envelope.

A 403 is an answer here, not a failure (``denied``: the app may not read it, which the pre-flight reports as a
warning); so is a 404 of what the pre-flight looks for (a container, the load's server). Anything else keeps the
envelope's meaning, so throttling and 5xx are waited out by the orchestrator like every other ARM call.

``check_now`` runs the same reads in place, one after another (no durable retries): the GET route and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.durable_functions as df

from activities._arm import run_preflight_arm
from activities.payload import Payload
from activities.recovery_points import RESOLVE_RECOVERY_POINT, resolve
from pgflex_restore.errors import AuthError, NotFoundError
from pgflex_restore.findings import Finding
from pgflex_restore.ids import BackupInstanceId, FlexibleServerId, VaultId
from pgflex_restore.preflight import (
    FIND_ACCOUNT,
    LIST_ROLES,
    READ_CONTAINER,
    READ_INSTANCE,
    READ_POINT,
    READ_SERVER,
    READ_VAULT,
    PreflightTarget,
    checks,
)
from pgflex_restore.preflight_client import PreflightClient
from pgflex_restore.settings import Settings

PREFLIGHT_GET_VAULT = "preflight_get_vault"
PREFLIGHT_GET_INSTANCE = "preflight_get_instance"
PREFLIGHT_FIND_ACCOUNT = "preflight_find_storage_account"
PREFLIGHT_GET_CONTAINER = "preflight_get_container"
PREFLIGHT_LIST_ROLES = "preflight_list_role_assignments"
PREFLIGHT_GET_SERVER = "preflight_get_server"

bp = df.Blueprint()


def _denied(exc: AuthError) -> dict[str, Any]:
    return {"denied": exc.to_dict()}


def get_vault(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: vault. Output: ``vault`` (principalId, identityType, crossSubscriptionRestore), or ``denied``."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            return {"vault": client.get_vault(VaultId.parse(payload["vault"])).to_dict()}
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise

    return run_preflight_arm(call, payload)


def get_instance(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: backupInstance. Output: ``instance`` (protection state, data source), or ``denied``."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            return {"instance": client.get_backup_instance(BackupInstanceId.parse(payload["backupInstance"])).to_dict()}
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise

    return run_preflight_arm(call, payload)


def find_account(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: subscription, accountName. Output: ``account`` (None when that subscription has none of that
    name, or does not exist for the app), or ``denied``."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            found = client.find_storage_account(payload["subscription"], payload["accountName"])
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise
        except NotFoundError:
            found = None  # SubscriptionNotFound: nothing the app can see there
        return {"account": found.to_dict() if found is not None else None}

    return run_preflight_arm(call, payload)


def get_container(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: account (ARM id), container. Output: ``exists``, or ``denied``."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            client.get_container(payload["account"], payload["container"])
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise
        except NotFoundError:
            return {"exists": False}
        return {"exists": True}

    return run_preflight_arm(call, payload)


def list_roles(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: scope, principalId. Output: ``assignments`` of that principal at, above and below the scope, or
    ``denied``."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            found = client.list_role_assignments(payload["scope"], payload["principalId"])
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise
        return {"assignments": [a.to_dict() for a in found]}

    return run_preflight_arm(call, payload)


def get_server(payload: dict[str, Any]) -> dict[str, Any]:
    """Input: server. Output: ``server`` (state, network, Entra authentication; None when it does not exist),
    or ``denied``. No allowlist check: nothing is changed, and the restore's starter checked it."""
    def call(client: PreflightClient, settings: Settings) -> dict[str, Any]:
        try:
            return {"server": client.get_server(FlexibleServerId.parse(payload["server"])).to_dict()}
        except AuthError as exc:
            if exc.status == 403:
                return _denied(exc)
            raise
        except NotFoundError:
            return {"server": None}

    return run_preflight_arm(call, payload)


# Each read of pgflex_restore/preflight.py: the activity that makes it, and its function (for check_now).
READS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    READ_VAULT: (PREFLIGHT_GET_VAULT, get_vault),
    READ_INSTANCE: (PREFLIGHT_GET_INSTANCE, get_instance),
    READ_POINT: (RESOLVE_RECOVERY_POINT, resolve),
    FIND_ACCOUNT: (PREFLIGHT_FIND_ACCOUNT, find_account),
    READ_CONTAINER: (PREFLIGHT_GET_CONTAINER, get_container),
    LIST_ROLES: (PREFLIGHT_LIST_ROLES, list_roles),
    READ_SERVER: (PREFLIGHT_GET_SERVER, get_server),
}


def check_now(target: PreflightTarget) -> tuple[list[Finding], int]:
    """The pre-flight run here and now (the GET route, the CLI): the findings and the ARM requests sent."""
    sequence = checks(target)
    sent = 0
    try:
        kind, payload = next(sequence)
        while True:
            answer = READS[kind][1](payload)
            sent += int(answer.get("armCalls") or 0)
            kind, payload = sequence.send(answer)
    except StopIteration as stop:
        return list(stop.value), sent


@bp.activity_trigger(input_name="payload")
def preflight_get_vault(payload: Payload) -> dict[str, Any]:
    return get_vault(payload)


@bp.activity_trigger(input_name="payload")
def preflight_get_instance(payload: Payload) -> dict[str, Any]:
    return get_instance(payload)


@bp.activity_trigger(input_name="payload")
def preflight_find_storage_account(payload: Payload) -> dict[str, Any]:
    return find_account(payload)


@bp.activity_trigger(input_name="payload")
def preflight_get_container(payload: Payload) -> dict[str, Any]:
    return get_container(payload)


@bp.activity_trigger(input_name="payload")
def preflight_list_role_assignments(payload: Payload) -> dict[str, Any]:
    return list_roles(payload)


@bp.activity_trigger(input_name="payload")
def preflight_get_server(payload: Payload) -> dict[str, Any]:
    return get_server(payload)
