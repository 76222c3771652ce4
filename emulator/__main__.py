"""``python -m emulator --scenario FILE``: run the emulator until SIGINT/SIGTERM.

Prints ``EMULATOR_URL=...``, ``IDENTITY_ENDPOINT=...`` and ``IDENTITY_HEADER=...`` (one per line) once serving.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC
from pathlib import Path
from types import FrameType

from .clock import Clock, RealClock, VirtualClock, parse_time
from .errors import ScenarioError
from .scenario import Scenario
from .server import EmulatorServer
from .spec import SpecNotFoundError, spec_root

EXAMPLE_SCENARIO = Path(__file__).resolve().parent / "example_scenario.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--scenario", default=str(EXAMPLE_SCENARIO),
                        help="scenario file (JSON or YAML); default: the example scenario")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--clock", choices=("real", "virtual"), default="real",
                        help="real time, or a virtual clock moved through POST /_emulator/clock/advance")
    parser.add_argument("--start-time", help="virtual clock start (ISO 8601), default now")
    parser.add_argument("--storage-connection-string", help="Blob storage (Azurite) for restored files")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="token lifetime in seconds")
    args = parser.parse_args(argv)

    try:
        spec_root()
    except SpecNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    clock: Clock = RealClock()
    if args.clock == "virtual":
        start = parse_time(args.start_time) if args.start_time else RealClock().now()
        clock = VirtualClock(start if start.tzinfo else start.replace(tzinfo=UTC))
    try:
        scenario = Scenario.load(args.scenario, clock.now().astimezone(UTC))
    except (OSError, ValueError, ScenarioError) as exc:
        print(f"error: cannot load scenario {args.scenario}: {exc}", file=sys.stderr)
        return 2
    server = EmulatorServer(scenario, clock=clock, storage_connection_string=args.storage_connection_string,
                            token_lifetime_seconds=args.token_lifetime, port=args.port)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.start()
    print(f"EMULATOR_URL={server.url}")
    print(f"IDENTITY_ENDPOINT={server.identity_endpoint}")
    print(f"IDENTITY_HEADER={server.identity_header}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
