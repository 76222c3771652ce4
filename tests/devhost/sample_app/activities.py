"""Test-only activities."""

import os

import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    return f"Hello {name}!"


@bp.activity_trigger(input_name="payload")
def always_fails(payload: object) -> None:
    raise ValueError(f"nope: {payload}")


@bp.activity_trigger(input_name="value")
async def add_one(value: int) -> int:
    return value + 1


@bp.activity_trigger(input_name="name")
def read_setting(name: str) -> str | None:
    return os.environ.get(name)
