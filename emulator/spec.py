"""The official API description: api-versions, and request-body validation against its schemas.

The emulator works from the repository's copy of the swagger (``emulator/api/``, derived from the official files
by ``scripts/derive_api_description.py``; see ``emulator/api/SOURCE.md``), or from the folder named by
``PGFLEX_AZURE_SPEC`` (one folder per api-version, as azure-rest-api-specs lays it out). Validation follows the
swagger's ``$ref``s, ``allOf`` inheritance and ``objectType`` discriminators, and names the failing field.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from .errors import ArmError

API_VERSIONS = ("2021-07-01", "2026-06-01")
SPEC_ENV = "PGFLEX_AZURE_SPEC"
INVALID_BODY_CODE = "UserErrorInvalidRequestParameter"


class SpecNotFoundError(RuntimeError):
    """azure-spec/ could not be located."""


BUNDLED = Path(__file__).resolve().parent / "api"


def spec_root() -> Path:
    """The API description folder: $PGFLEX_AZURE_SPEC when set, else the repository's copy."""
    if os.environ.get(SPEC_ENV):
        return find_spec([Path(os.environ[SPEC_ENV])])
    return find_spec([BUNDLED])


def find_spec(candidates: list[Path]) -> Path:
    """The first candidate folder holding both api-versions' swagger, else SpecNotFoundError."""
    for path in candidates:
        if all((path / version / "dataprotection.json").is_file() for version in API_VERSIONS):
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise SpecNotFoundError(
        f"the official Microsoft.DataProtection swagger was not found (tried {tried}); "
        f"set {SPEC_ENV} to the azure-spec folder that holds {'/ and '.join(API_VERSIONS)}/dataprotection.json"
    )


@cache
def definitions(api_version: str) -> dict[str, Any]:
    """The swagger's ``definitions`` for one api-version (loaded once)."""
    path = spec_root() / api_version / "dataprotection.json"
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return dict(document["definitions"])


class _Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class BodyValidator:
    """Validates JSON values against one api-version's definitions, as the service's deserializer would."""

    def __init__(self, api_version: str, defs: dict[str, Any] | None = None) -> None:
        self.defs = defs if defs is not None else definitions(api_version)

    def validate(self, definition: str, value: Any, root: str = "") -> None:
        """Raise ArmError 400 naming the first field (dotted path) that breaks the schema."""
        try:
            self._check({"$ref": f"#/definitions/{definition}"}, value, root)
        except _Invalid as exc:
            raise ArmError(400, INVALID_BODY_CODE, exc.message, target=exc.path or None) from None

    def _resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        ref = schema.get("$ref")
        if ref is None:
            return None, schema
        if not isinstance(ref, str) or not ref.startswith("#/definitions/"):
            return None, None  # common-types from another file: not needed for request bodies, accept
        name = ref.rsplit("/", 1)[1]
        return name, self.defs[name]

    def _ancestors(self, name: str) -> list[str]:
        """``name`` and every definition it inherits from through allOf, nearest first."""
        chain = [name]
        for part in self.defs[name].get("allOf", []):
            parent, _ = self._resolve(part)
            if parent:
                chain += self._ancestors(parent)
        return chain

    def _subtype(self, base: str, discriminator: str, value: str, path: str) -> str:
        for name, schema in self.defs.items():
            if (name != base and base in self._ancestors(name)
                    and schema.get("x-ms-discriminator-value", name) == value):
                return name
        if self.defs[base].get("x-ms-discriminator-value", base) == value:
            return base
        allowed = sorted(
            s.get("x-ms-discriminator-value", n)
            for n, s in self.defs.items()
            if n != base and base in self._ancestors(n)
        )
        raise _Invalid(
            _join(path, discriminator),
            f"The value '{value}' of '{_join(path, discriminator)}' is not a known {base} type; "
            f"expected one of: {', '.join(allowed)}.",
        )

    def _merged(self, name: str) -> tuple[dict[str, Any], list[str]]:
        props: dict[str, Any] = {}
        required: list[str] = []
        for ancestor in reversed(self._ancestors(name)):
            schema = self.defs[ancestor]
            props.update(schema.get("properties", {}))
            required += [r for r in schema.get("required", []) if r not in required]
        return props, required

    def _check(self, schema: dict[str, Any], value: Any, path: str) -> None:
        name, resolved = self._resolve(schema)
        if resolved is None:
            return
        if name is not None:
            discriminator = _discriminator_of(self, name)
            if discriminator and isinstance(value, dict):
                tag = value.get(discriminator)
                if not isinstance(tag, str) or not tag:
                    raise _Invalid(
                        _join(path, discriminator),
                        f"The required property '{_join(path, discriminator)}' is missing.",
                    )
                name = self._subtype(discriminator_base(self, name), discriminator, tag, path)
            if "allOf" in self.defs[name] or "properties" in self.defs[name]:
                props, required = self._merged(name)
                self._check_object(props, required, value, path)
                return
        self._check_plain(resolved, value, path)

    def _check_object(self, props: dict[str, Any], required: list[str], value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _Invalid(path, f"The value of '{path or 'body'}' must be a JSON object.")
        for key in required:
            if value.get(key) is None:
                raise _Invalid(_join(path, key), f"The required property '{_join(path, key)}' is missing.")
        for key, sub in props.items():
            if key in value and value[key] is not None and not sub.get("readOnly"):
                self._check(sub, value[key], _join(path, key))

    def _check_plain(self, schema: dict[str, Any], value: Any, path: str) -> None:
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            self._check_object(schema.get("properties", {}), schema.get("required", []), value, path)
            return
        checks = {
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "array": lambda v: isinstance(v, list),
        }
        if isinstance(kind, str) and kind in checks and not checks[kind](value):
            raise _Invalid(path, f"The value of '{path}' must be of type {kind}.")
        enum = schema.get("enum")
        if enum and isinstance(value, str) and value.lower() not in {str(e).lower() for e in enum}:
            raise _Invalid(
                path, f"The value '{value}' of '{path}' is not valid; allowed values: {', '.join(map(str, enum))}."
            )
        if kind == "array" and "items" in schema:
            for index, item in enumerate(value):
                self._check(schema["items"], item, f"{path}[{index}]")


def _discriminator_of(validator: BodyValidator, name: str) -> str | None:
    for ancestor in validator._ancestors(name):
        found = validator.defs[ancestor].get("discriminator")
        if isinstance(found, str):
            return found
    return None


def discriminator_base(validator: BodyValidator, name: str) -> str:
    """The top definition of ``name``'s chain that declares the discriminator."""
    base = name
    for ancestor in validator._ancestors(name):
        if "discriminator" in validator.defs[ancestor]:
            base = ancestor
    return base


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@cache
def validator(api_version: str) -> BodyValidator:
    """One cached validator per api-version."""
    return BodyValidator(api_version)


# The other providers the load step and the pre-flight call: a minimal description derived from their official
# swagger (just the operations used; see emulator/api/SOURCE.md), one file serving every api-version it lists.
PROVIDER_DESCRIPTIONS = {
    "microsoft.app": "Microsoft.App/2025-07-01/jobs.json",
    "microsoft.dbforpostgresql": "Microsoft.DBforPostgreSQL/2025-08-01/flexibleservers.json",
    "microsoft.storage": "Microsoft.Storage/2025-06-01/storage.json",
    "microsoft.authorization": "Microsoft.Authorization/2022-04-01/roleassignments.json",
}


@cache
def provider_description(provider: str) -> dict[str, Any]:
    """The derived description of one provider (lower-case namespace, e.g. ``microsoft.app``)."""
    with (BUNDLED / PROVIDER_DESCRIPTIONS[provider]).open(encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def provider_of(path: str) -> str | None:
    """The lower-cased provider namespace a path addresses (the last ``/providers/{ns}`` segment)."""
    parts = path.split("/")
    found = [parts[i + 1] for i, part in enumerate(parts[:-1]) if part.lower() == "providers"]
    return found[-1].lower() if found else None


def api_versions_for(path: str) -> tuple[str, ...]:
    """The api-versions ARM accepts for the provider a path addresses (DataProtection's unless another); the
    routes then narrow them (an operation URL may carry another version than the call that made it)."""
    provider = provider_of(path)
    if provider in PROVIDER_DESCRIPTIONS:
        description = provider_description(provider)
        return (*description["apiVersions"], *description.get("operationApiVersions", []))
    return API_VERSIONS


@cache
def provider_validator(provider: str) -> BodyValidator:
    """Validates bodies against one provider's derived definitions."""
    description = provider_description(provider)
    return BodyValidator(description["apiVersions"][0], dict(description["definitions"]))


def checked(provider: str, definition: str, body: Any) -> Any:
    """``body`` if it fits ``definition`` of the provider's description; an emulator answer that does not is a bug
    (RuntimeError: the request gets a 500), never a shape a client could learn to accept."""
    try:
        provider_validator(provider).validate(definition, body)
    except ArmError as exc:
        raise RuntimeError(f"the emulator's {definition} breaks the API description: {exc.message}") from None
    return body
