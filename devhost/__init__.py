"""devhost: a local Durable Functions host that drives function_app.py through the real SDK replay code."""
