"""The restore's progress view merges its tracker's without losing or shrinking anything."""

from pgflex_restore.progress import merge_progress


def test_tracker_adds_job_progress_and_keeps_the_restore_phase() -> None:
    """Job status and % come from the tracker; the phase stays the restore's; retries add up."""
    restore = {"phase": "tracking", "jobId": "j1", "retries": 3, "recoveryPoint": {"id": "rp-0"}}
    tracker = {"phase": "tracking-generation", "jobStatus": "InProgress", "progress": 40.0, "retries": 1,
               "nextCheck": "2026-11-01T06:10:00Z"}
    merged = merge_progress(restore, tracker)
    assert merged == {"phase": "tracking", "jobId": "j1", "retries": 4, "recoveryPoint": {"id": "rp-0"},
                      "jobStatus": "InProgress", "progress": 40.0, "nextCheck": "2026-11-01T06:10:00Z"}


def test_without_a_tracker_the_restore_status_is_returned_as_is() -> None:
    """Before the job exists there is nothing to merge; missing statuses give an empty view."""
    assert merge_progress({"phase": "validating"}, None) == {"phase": "validating"}
    assert merge_progress(None, None) == {}
    assert merge_progress(None, {"polls": 2}) == {"polls": 2}


def test_a_loading_restore_shows_its_loaders_step_and_next_check() -> None:
    from pgflex_restore.progress import RESULT_STATUSES, SUCCESS_STATUSES

    merged = merge_progress({"phase": "loading", "jobId": "j", "retries": 1},
                            {"phase": "tracking", "jobStatus": "Completed", "nextCheck": "old", "retries": 2},
                            {"phase": "loading", "loadStep": "running", "execution": "loader-1", "nextCheck": "new",
                             "retries": 3})
    assert merged == {"phase": "loading", "jobId": "j", "jobStatus": "Completed", "loadStep": "running",
                      "execution": "loader-1", "nextCheck": "new", "retries": 6}
    assert {"loaded", "load_failed"} <= RESULT_STATUSES and "loaded" in SUCCESS_STATUSES


def test_preflight_failed_is_a_result_status_and_a_failure() -> None:
    """A restore the pre-flight stopped ends with a record like any failure: an error, nothing started."""
    from pgflex_restore.outcome import FAILURE_STATUSES, JobFacts, outcome_fields
    from pgflex_restore.progress import RESULT_STATUSES, SUCCESS_STATUSES

    assert "preflight_failed" in RESULT_STATUSES - SUCCESS_STATUSES and "preflight_failed" in FAILURE_STATUSES
    fields = outcome_fields("preflight_failed", {"code": "PreflightFailed", "message": "m"}, JobFacts("bi"))
    assert fields["error"]["code"] == "PreflightFailed" and fields["jobMayBeRunning"] is False
    assert fields["restorePost"] == "notAccepted" and fields["findJob"] is None
