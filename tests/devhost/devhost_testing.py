"""Constants shared by the devhost tests (a uniquely named module: tests/devhost has no package)."""

from datetime import UTC, datetime

START = datetime(2026, 11, 1, tzinfo=UTC)
SAMPLE_ENV = {"TASKHUB_NAME": "DevhostTests", "TICK_SCHEDULE": "0 0 3 * * *", "WORK_QUEUE": "unused-queue",
              "DEVHOST_SAMPLE_SETTING": "from-env"}
