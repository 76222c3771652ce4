"""Local stand-in for Microsoft.DataProtection (Azure Backup) and the App Service managed-identity endpoint, and
for what loading a restore calls: Container Apps jobs (run as local processes) and PostgreSQL flexible servers
(backed by a real local PostgreSQL).

Shares no code with the app's core package: it works from the official API description in emulator/api/.
"""

from .clock import RealClock, VirtualClock
from .errors import ScenarioError
from .scenario import Scenario
from .server import EmulatorServer

__all__ = ["EmulatorServer", "RealClock", "Scenario", "ScenarioError", "VirtualClock"]
