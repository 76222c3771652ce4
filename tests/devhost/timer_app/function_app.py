"""Test-only app: a runOnStartup timer and a TimeSpan-scheduled timer."""

import azure.functions as func

app = func.FunctionApp()
fired: list[tuple[str, bool]] = []
statuses: list[dict[str, str]] = []


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
def yearly(timer: func.TimerRequest) -> None:
    fired.append(("yearly", timer.past_due))


@app.timer_trigger(arg_name="timer", schedule="00:10:00")
async def every_ten_minutes(timer: func.TimerRequest) -> None:
    fired.append(("ten", timer.past_due))
    statuses.append(dict(getattr(timer, "schedule_status", None) or {}))
