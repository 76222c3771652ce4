"""Validate JSON against the official swagger 2.0 definitions, discriminators included, with `jsonschema`.

Swagger 2.0 is almost JSON Schema draft 4, except for two things this module resolves itself:

* Polymorphism. A base definition names a ``discriminator`` property (``objectType``); subtypes ``allOf`` the base
  and declare ``x-ms-discriminator-value``. A ``$ref`` to the base means "any subtype, chosen by objectType".
  Each definition ``D`` becomes two schemas: ``D~flat`` (its own and all inherited properties merged, required
  lists merged) and ``D`` itself, a dispatcher that requires ``objectType`` to be one of the values of ``D`` and
  its descendants and applies the matching ``~flat`` schema through draft-7 ``if``/``then``.
* Closed objects. Swagger leaves ``additionalProperties`` open, so a field the api-version does not define would
  pass silently. In ``strict`` mode every object without its own ``additionalProperties`` is closed, so a
  2026-only field sent with 2021-07-01 is caught.

Extensible enums. ``x-ms-enum: {modelAsString: true}`` means "other values may appear". Strict mode (bodies we
send) keeps the enum: we must only send listed values. Loose mode (responses) lets any string through.

References outside the file (``../common-types/...``) become ``{}`` (anything): only response envelopes use them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

_LOCAL = "#/definitions/"
_DROP = {"discriminator", "x-ms-discriminator-value", "allOf", "x-ms-enum", "x-ms-identifiers",
         "x-ms-client-name", "x-ms-mutability", "x-ms-secret", "x-ms-client-flatten", "x-nullable",
         "x-ms-azure-resource", "x-ms-external", "title", "description", "example"}


class SwaggerSchemas:
    """The definitions of one swagger file, ready for jsonschema; ``errors(instance, name)`` lists problems."""

    def __init__(self, spec: dict[str, Any], *, strict: bool = True) -> None:
        self.spec = spec
        self.raw: dict[str, dict[str, Any]] = spec["definitions"]
        self.strict = strict

    @classmethod
    def load(cls, path: Path, *, strict: bool = True) -> SwaggerSchemas:
        """Read a swagger file."""
        return cls(json.loads(path.read_text(encoding="utf-8")), strict=strict)

    # -- inheritance ----------------------------------------------------------------------------------------

    def parents(self, name: str) -> list[str]:
        """Definitions ``name`` inherits from through ``allOf`` local refs."""
        return [
            part["$ref"][len(_LOCAL):]
            for part in self.raw[name].get("allOf", [])
            if isinstance(part, dict) and part.get("$ref", "").startswith(_LOCAL)
        ]

    @cached_property
    def children(self) -> dict[str, list[str]]:
        """Direct subtypes of every definition."""
        out: dict[str, list[str]] = {name: [] for name in self.raw}
        for name in self.raw:
            for parent in self.parents(name):
                out.setdefault(parent, []).append(name)
        return out

    def descendants(self, name: str) -> Iterator[str]:
        """All subtypes, transitively."""
        for child in self.children.get(name, []):
            yield child
            yield from self.descendants(child)

    def discriminator(self, name: str) -> str | None:
        """The discriminator property in force for ``name`` (its own or an ancestor's)."""
        own = self.raw[name].get("discriminator")
        if isinstance(own, str):
            return own
        for parent in self.parents(name):
            found = self.discriminator(parent)
            if found:
                return found
        return None

    def discriminator_value(self, name: str) -> str:
        """``x-ms-discriminator-value`` or, as autorest does, the definition's name."""
        return str(self.raw[name].get("x-ms-discriminator-value", name))

    # -- schema building ------------------------------------------------------------------------------------

    def _rewrite(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            return {"$ref": ref} if ref.startswith(_LOCAL) else {}
        out = {key: self._rewrite(value) for key, value in node.items() if key not in _DROP}
        if not self.strict and node.get("x-ms-enum", {}).get("modelAsString") and "enum" in out:
            del out["enum"]  # extensible enum: services send values newer than the spec (e.g. "NotProtected")
        if "properties" in node:  # property names are data, not keywords: keep every one
            out["properties"] = {k: self._rewrite(v) for k, v in node["properties"].items()}
        if self.strict and out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    def _merged(self, name: str) -> tuple[dict[str, Any], list[str]]:
        """Properties and required names of ``name`` including everything inherited."""
        props: dict[str, Any] = {}
        required: list[str] = []
        definition = self.raw[name]
        for part in definition.get("allOf", []):
            if part.get("$ref", "").startswith(_LOCAL):
                p, r = self._merged(part["$ref"][len(_LOCAL):])
            else:
                p, r = part.get("properties", {}), part.get("required", [])
            props.update(p)
            required.extend(r)
        props.update(definition.get("properties", {}))
        required.extend(definition.get("required", []))
        return props, list(dict.fromkeys(required))

    def _flat(self, name: str) -> dict[str, Any]:
        definition = self.raw[name]
        props, required = self._merged(name)
        if not props and "allOf" not in definition and definition.get("type") != "object":
            return dict(self._rewrite(definition))  # enums, plain strings, maps
        schema: dict[str, Any] = {"type": "object", "properties": {k: self._rewrite(v) for k, v in props.items()}}
        if required:
            schema["required"] = required
        if "additionalProperties" in definition:
            schema["additionalProperties"] = self._rewrite(definition["additionalProperties"])
        elif self.strict:
            schema["additionalProperties"] = False
        return schema

    def _dispatcher(self, name: str, prop: str) -> dict[str, Any]:
        variants = {self.discriminator_value(n): n for n in [name, *self.descendants(name)]}
        return {
            "type": "object",
            "required": [prop],
            "properties": {prop: {"enum": sorted(variants)}},
            "allOf": [
                {"if": {"properties": {prop: {"const": value}}, "required": [prop]},
                 "then": {"$ref": f"{_LOCAL}{target}~flat"}}
                for value, target in sorted(variants.items())
            ],
        }

    @cached_property
    def definitions(self) -> dict[str, Any]:
        """Every definition as JSON Schema, dispatchers for polymorphic ones."""
        out: dict[str, Any] = {}
        for name in self.raw:
            out[f"{name}~flat"] = self._flat(name)
            prop = self.discriminator(name)
            out[name] = self._dispatcher(name, prop) if prop else {"$ref": f"{_LOCAL}{name}~flat"}
        return out

    def validator(self, name: str) -> Draft7Validator:
        """A validator for instances of definition ``name``."""
        if name not in self.raw:
            raise KeyError(f"no definition {name!r} in this swagger")
        return Draft7Validator({"definitions": self.definitions, "allOf": [{"$ref": f"{_LOCAL}{name}"}]})

    def errors(self, instance: Any, name: str) -> list[str]:
        """Every problem with ``instance`` as a ``name``, as readable strings (empty when valid)."""
        found = sorted(self.validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in _leaves(found)]

    # -- operations -----------------------------------------------------------------------------------------

    def operation(self, operation_id: str) -> dict[str, Any]:
        """The operation object with this operationId."""
        for methods in self.spec["paths"].values():
            for op in methods.values():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    return op
        raise KeyError(operation_id)

    def body_definition(self, operation_id: str) -> str:
        """Name of the definition an operation's body parameter refers to."""
        for param in self.operation(operation_id).get("parameters", []):
            if param.get("in") == "body":
                return str(param["schema"]["$ref"][len(_LOCAL):])
        raise KeyError(f"{operation_id} has no body parameter")

    def response_definition(self, operation_id: str, status: str = "200") -> str:
        """Name of the definition of an operation's response body."""
        return str(self.operation(operation_id)["responses"][status]["schema"]["$ref"][len(_LOCAL):])


def _leaves(errors: list[Any]) -> Iterator[Any]:
    """The innermost errors: an if/then failure is reported at the property that is wrong."""
    for error in errors:
        if error.context:
            yield from _leaves(list(error.context))
        else:
            yield error
