"""The control API under /_emulator/ (no auth): what tests and demos use to steer and inspect the emulator.

| method + path            | body                                  | does                                   |
| ------------------------ | ------------------------------------- | -------------------------------------- |
| GET    requests          |                                       | the request log                        |
| DELETE requests          |                                       | clear the request log                  |
| GET    clock             |                                       | the emulator clock's time              |
| POST   clock/advance     | {"seconds": N}                        | move a virtual clock forward           |
| POST   clock/set         | {"time": "2026-01-01T00:00:00Z"}      | set a virtual clock                    |
| GET    faults            |                                       | faults not used up yet                 |
| POST   faults            | a fault, or {"faults": [...]}         | inject faults (see faults.Fault)       |
| DELETE faults            |                                       | forget pending faults                  |
| POST   throttle          | {"subscription", "readsBucket", ...}  | set (or with "disable": true, remove)  |
| POST   scenario          | a scenario                            | replace scenario, operations and jobs  |
| GET    jobs              |                                       | every job with status and files        |
| GET    executions        |                                       | Container Apps executions + output     |
| GET    configurations    |                                       | server parameter changes and outcomes  |
| GET    token-passwords   |                                       | database tokens set as role passwords  |
| POST   tokens/revoke     |                                       | expire every token issued so far       |
| POST   tokens/lifetime   | {"resource", "seconds": N or null}    | lifetime of tokens issued from now on  |
| GET    health            |                                       | {"status": "ok"}                       |
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .clock import arm_time, parse_time
from .errors import ScenarioError
from .faults import Fault
from .scenario import Scenario, Throttle

if TYPE_CHECKING:
    from .server import EmulatorServer


class Control:
    """Handles one control request; answers (status, JSON body)."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator

    def handle(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        route = f"{method} {path.strip('/')}"
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return 400, {"error": f"malformed JSON: {exc}"}
        try:
            return self._route(route, body)
        except (ValueError, TypeError, KeyError, ScenarioError) as exc:
            return 400, {"error": str(exc)}

    def _route(self, route: str, body: Any) -> tuple[int, Any]:
        emulator = self.emulator
        table: dict[str, Any] = {
            "GET requests": lambda: (200, {"requests": emulator.requests}),
            "DELETE requests": self._clear_requests,
            "GET clock": lambda: (200, {"now": arm_time(emulator.state.now())}),
            "POST clock/advance": lambda: self._clock(route, body),
            "POST clock/set": lambda: self._clock(route, body),
            "GET faults": lambda: (200, {"faults": emulator.faults.pending()}),
            "POST faults": lambda: self._add_faults(body),
            "DELETE faults": self._clear_faults,
            "POST throttle": lambda: self._throttle(body),
            "POST scenario": lambda: self._scenario(body),
            "GET jobs": lambda: (200, {"jobs": emulator.jobs()}),
            "POST tokens/revoke": lambda: (200, {"revoked": emulator.revoke_tokens()}),
            "GET executions": lambda: (200, {"executions": emulator.executions()}),
            "GET configurations": lambda: (200, {"operations": emulator.configuration_operations()}),
            "GET token-passwords": lambda: (200, {"tokenPasswords": emulator.token_passwords()}),
            "POST tokens/lifetime": lambda: self._token_lifetime(body),
            "GET health": lambda: (200, {"status": "ok"}),
        }
        action = table.get(route)
        if action is None:
            return 404, {"error": f"no control route '{route}'"}
        result: tuple[int, Any] = action()
        return result

    def _clear_requests(self) -> tuple[int, Any]:
        self.emulator.clear_requests()
        return 200, {"cleared": True}

    def _clear_faults(self) -> tuple[int, Any]:
        self.emulator.faults.clear()
        return 200, {"faults": []}

    def _add_faults(self, body: Any) -> tuple[int, Any]:
        faults = body.get("faults", [body]) if isinstance(body, dict) else body
        for raw in faults:
            self.emulator.faults.add(Fault.from_dict(raw))
        return 200, {"faults": self.emulator.faults.pending()}

    def _throttle(self, body: dict[str, Any]) -> tuple[int, Any]:
        subscription = str(body.pop("subscription"))
        if body.pop("disable", False):
            self.emulator.set_throttle(subscription, None)
        else:
            self.emulator.set_throttle(subscription, Throttle(**_snake(body)))
        return 200, {"subscription": subscription}

    def _scenario(self, body: Any) -> tuple[int, Any]:
        self.emulator.replace_scenario(Scenario.from_dict(body, self.emulator.state.now()))
        return 200, {"vaults": len(self.emulator.state.scenario.vaults)}

    def _token_lifetime(self, body: dict[str, Any]) -> tuple[int, Any]:
        seconds = body.get("seconds")
        self.emulator.set_token_lifetime(str(body["resource"]), int(seconds) if seconds is not None else None)
        return 200, {"resource": body["resource"], "seconds": seconds}

    def _clock(self, route: str, body: dict[str, Any]) -> tuple[int, Any]:
        clock = self.emulator.state.clock
        if route == "POST clock/advance":
            advance = getattr(clock, "advance", None)
            if advance is None:
                return 409, {"error": "the emulator runs on a clock that cannot be advanced"}
            advance(float(body["seconds"]))
        else:
            setter = getattr(clock, "set", None)
            if setter is None:
                return 409, {"error": "the emulator runs on a clock that cannot be set"}
            setter(parse_time(str(body["time"])))
        self.emulator.state.tick()
        return 200, {"now": arm_time(self.emulator.state.now())}


def _snake(raw: dict[str, Any]) -> dict[str, Any]:
    names = {"readsBucket": "reads_bucket", "readsPerSecond": "reads_per_second",
             "writesBucket": "writes_bucket", "writesPerSecond": "writes_per_second"}
    unknown = set(raw) - set(names)
    if unknown:
        raise ValueError(f"unknown throttle keys: {', '.join(sorted(unknown))}")
    return {names[k]: float(v) for k, v in raw.items()}
