"""The durable core: instances, the work queue, episodes, and the history the host appends for each action.

One completion event is delivered per episode, and implicit ids (retry timers, re-attempts) are allocated before
the episode's new actions, so sequence ids come out as the real host produces them.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from devhost.clock import Clock, dotnet_timestamp, parse_timestamp
from devhost.episode import ID_CONSUMING_TYPES, build_context, custom_status_error, invoke, leaves, normalized
from devhost.errors import NonDeterminismError
from devhost.history import EventType, OrchestrationStatus, event, execution_started
from devhost.indexer import FunctionInfo, durable_name
from devhost.model import TERMINAL, Execution, Instance, RetryPlan, Work
from devhost.redelivery import Redelivery
from devhost.runner import ActivityRunner
from devhost.store import InstanceStore, new_execution_id

log = logging.getLogger("devhost")


class Engine(InstanceStore):
    """Episodes and the host's side of every action: the history it appends and the work it queues."""

    def __init__(self, functions: dict[str, FunctionInfo], clock: Clock, runner: ActivityRunner,
                 determinism_checks: bool, redelivery: Redelivery | None = None) -> None:
        self.orchestrators = {durable_name(f): f for f in functions.values()
                              if f.trigger_type == "orchestrationTrigger"}
        self.activities = {durable_name(f): f for f in functions.values() if f.trigger_type == "activityTrigger"}
        super().__init__(clock, set(self.orchestrators))
        self.runner = runner
        self.determinism_checks = determinism_checks
        self.episodes = 0
        self.orchestrator_cpu_seconds = 0.0
        self.dropped_starts: list[str] = []  # sub-orchestration starts the Azure Storage backend would drop
        self.redelivery = redelivery
        self.redelivered: list[tuple[str, str, int, str]] = []  # (activity, instance, task id, point)
        self.pool: ThreadPoolExecutor | None = None  # set by use_activity_pool: activities run concurrently
        self.running_activities = 0

    def use_activity_pool(self, size: int) -> None:
        """Run activities on a pool of `size` threads, as the worker does up to maxConcurrentActivityFunctions."""
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="devhost-activity")

    def close_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def runnable(self) -> bool:
        with self.lock:
            return self.busy or bool(self.queue) or self.running_activities > 0

    def terminate(self, instance_id: str, reason: str) -> None:
        with self.lock:
            inst = self._require(instance_id)
            self._require_running(inst)
            ex, now = inst.execution, self.clock.now()
            self._begin(ex, now)
            self._ensure_started(inst)  # the host processes the start message first: history[1] is always it
            ex.history.append(event(EventType.ExecutionTerminated, now, Input=reason))
            ex.history.append(event(EventType.ExecutionCompleted, now,
                                    OrchestrationStatus=int(OrchestrationStatus.Terminated), Result=reason))
            ex.history.append(event(EventType.OrchestratorCompleted, now))
            self._finish(inst, "Terminated", reason, now)
            self._notify_parent(inst, terminated=reason)

    def suspend(self, instance_id: str, reason: str) -> None:
        """Hold the instance's episodes (activities already scheduled still run) until resume."""
        with self.lock:
            inst = self._require(instance_id)
            self._require_running(inst)
            if inst.status != "Suspended":
                if not inst.execution.started:
                    self._episode(inst, None)  # as on the host, the start message is processed first
                self._marker(inst, EventType.ExecutionSuspended, reason)
                inst.status = "Suspended"

    def resume(self, instance_id: str, reason: str) -> None:
        with self.lock:
            inst = self._require(instance_id)
            self._require_running(inst)
            if inst.status == "Suspended":
                self._marker(inst, EventType.ExecutionResumed, reason)
                inst.status = "Running" if inst.execution.started else "Pending"
                held, inst.held = inst.held, []
                for item in held:
                    self._push(item)

    def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """Start the instance's orchestrator again with its original input (the extension's restart)."""
        with self.lock:
            inst = self._require(instance_id)
            first = inst.previous_executions[0] if inst.previous_executions else inst.execution
            return self.start(inst.name, first.input_token, None if new_instance_id else instance_id)

    def _marker(self, inst: Instance, kind: EventType, reason: str) -> None:
        ex, now = inst.execution, self.clock.now()
        self._begin(ex, now)
        ex.history.append(event(kind, now, Reason=reason))
        ex.history.append(event(EventType.OrchestratorCompleted, now))
        inst.last_updated_time = now

    # ----- the worker's side -----

    def step(self) -> bool:
        """Do one unit of work (an episode or an activity); False when nothing is runnable now."""
        with self.lock:
            self._queue_due_timers()
            if not self.queue:
                return False
            kind, instance_id, execution_id, payload = self.queue.popleft()
            self.busy = True
        try:
            if kind == "activity" and self.pool is not None:
                with self.lock:
                    self.running_activities += 1
                self.pool.submit(self._run_pooled_activity, instance_id, execution_id, payload)
            elif kind == "activity":
                self._run_activity(instance_id, execution_id, payload)
            else:
                with self.lock:
                    inst = self._live(instance_id, execution_id)
                    if inst is not None and inst.status == "Suspended":
                        inst.held.append((kind, instance_id, execution_id, payload))
                    elif inst is not None:
                        self._episode(inst, payload)
        except Exception as exc:  # a devhost bug must not kill the worker silently
            log.exception("devhost worker error")
            self.errors.append(exc)
        finally:
            with self.lock:
                self.busy = False
                self.changed.notify_all()
        return True

    # ----- internals -----

    def _queue_due_timers(self) -> None:
        now = self.clock.now()
        due = sorted(((w.fire_at, i.instance_id, w.task_id, i, w) for i in self.instances.values()
                      if i.status not in TERMINAL for w in i.execution.work.values()
                      if w.kind == "timer" and not w.canceled and not w.queued
                      and w.fire_at is not None and w.fire_at <= now), key=lambda t: t[:3])
        for fire_at, instance_id, task_id, inst, work in due:
            work.queued = True
            ev = event(EventType.TimerFired, now, TimerId=task_id, FireAt=dotnet_timestamp(fire_at))
            self._push(("episode", instance_id, inst.execution.execution_id, ev))

    @staticmethod
    def _begin(ex: Execution, now: datetime) -> None:
        for ev in ex.history:
            ev["IsPlayed"] = True
        ex.history.append(event(EventType.OrchestratorStarted, now))

    def _ensure_started(self, inst: Instance) -> bool:
        """Append ExecutionStarted if this execution has not started yet; True when it did so."""
        ex = inst.execution
        if ex.started:
            return False
        ex.started = True
        caller = self.instances.get(inst.parent_instance_id or "")
        parent = None if inst.parent_instance_id is None else {
            "Name": caller.name if caller else None, "Version": "",
            "OrchestrationInstance": {"InstanceId": inst.parent_instance_id,
                                      "ExecutionId": inst.parent_execution_id},
            "TaskScheduleId": inst.parent_task_id}
        ex.history.append(execution_started(
            inst.created_time, inst.name, instance_id=inst.instance_id, execution_id=ex.execution_id,
            input_json=json.dumps(ex.input_token), parent=parent, generation=len(inst.previous_executions)))
        inst.status = "Running"
        return True

    def _episode(self, inst: Instance, delivered: dict[str, Any] | None) -> None:
        ex, now = inst.execution, self.clock.now()
        if delivered is None and ex.started:
            return  # a start message for an execution already started (by an early suspend): nothing to do
        self._begin(ex, now)
        if not self._ensure_started(inst) and delivered is not None:
            ex.history.append(delivered)
        ex.last_context = build_context(inst)
        cpu = time.thread_time()
        result = invoke(self.orchestrators[inst.name], ex.last_context)
        self.orchestrator_cpu_seconds += time.thread_time() - cpu
        self.episodes += 1
        done = self._apply(inst, result, delivered, now)
        if not done:
            ex.history.append(event(EventType.OrchestratorCompleted, now))
            inst.last_updated_time = now

    def _apply(self, inst: Instance, result: Any, delivered: dict[str, Any] | None, now: datetime) -> bool:
        """Execute what the orchestrator returned; True when the execution ended this episode."""
        ex, actions = inst.execution, result.actions
        problem = self._refusal(inst, result, actions)
        if problem:
            return self._fail(inst, problem, now)
        if result.is_done:
            continued = [a for a in leaves(actions) if a.get("actionType") == 4]
            if continued:
                return self._continue_as_new(inst, continued[-1].get("input"), now)
            return self._complete(inst, result.state.get("output"), now)
        self._implicit(inst, delivered, now)
        new = actions[ex.seen_actions:]
        ex.seen_actions = len(actions)
        for leaf in leaves(new):
            task_id = None
            if leaf.get("actionType") in ID_CONSUMING_TYPES:
                task_id = ex.next_id
                ex.next_id += 1
            ex.leaf_ids.append(task_id)
            problem = self._schedule(inst, leaf, task_id, now)
            if problem:
                return self._fail(inst, problem, now)
        for leaf, task_id in zip(leaves(actions), ex.leaf_ids, strict=False):
            work = ex.work.get(task_id) if task_id is not None else None
            if work is not None and work.kind == "timer" and leaf.get("isCanceled"):
                work.canceled = True
        return False

    def _refusal(self, inst: Instance, result: Any, actions: list[dict[str, Any]]) -> str | None:
        """Why the host fails this episode: non-determinism, oversized custom status, an unhandled exception."""
        ex = inst.execution
        previous, ex.actions = ex.actions, normalized(actions)
        if self.determinism_checks and result.error is None and ex.actions[:len(previous)] != previous:
            return NonDeterminismError.describe(inst.name, previous, ex.actions)
        if "customStatus" in result.state:
            too_big = custom_status_error(result.state["customStatus"])
            if too_big:
                return too_big
            inst.custom_status = result.state["customStatus"]
        return result.error if result.error is not None else None

    def _schedule(self, inst: Instance, leaf: dict[str, Any], task_id: int | None, now: datetime) -> str | None:
        """Append the scheduling event for one new action and queue its work; a problem text fails the episode."""
        ex, kind = inst.execution, leaf.get("actionType")
        retry = leaf.get("retryOptions")
        plan = RetryPlan(int(retry["firstRetryIntervalInMilliseconds"]), int(retry["maxNumberOfAttempts"])) \
            if retry else None
        if kind in (0, 1) and task_id is not None:
            name = str(leaf.get("functionName"))
            if name not in self.activities:
                return (f"devhost: the orchestrator called activity '{name}', but no activity function of that "
                        f"name is registered (activities: {', '.join(sorted(self.activities)) or 'none'})")
            self._schedule_activity(inst, Work(task_id, "activity", name, leaf.get("input"), plan), now)
        elif kind in (2, 3) and task_id is not None:
            name = str(leaf.get("functionName"))
            if name not in self.orchestrators:
                return (f"devhost: the orchestrator called sub-orchestrator '{name}', but no orchestrator "
                        f"function of that name is registered (orchestrators: {', '.join(sorted(self.orchestrators))})")
            if leaf.get("instanceId") and leaf.get("instanceId") in (inst.instance_id, inst.parent_instance_id):
                return (f"A sub-orchestration's instance id must differ from its parent's and grandparent's: "
                        f"{leaf.get('instanceId')!r}")
            self._schedule_sub(inst, Work(task_id, "suborch", name, leaf.get("input"), plan,
                                          explicit_child_id=leaf.get("instanceId")), now)
        elif kind == 5 and task_id is not None:
            fire_at = parse_timestamp(str(leaf["fireAt"]))
            ex.history.append(event(EventType.TimerCreated, now, task_id, FireAt=dotnet_timestamp(fire_at)))
            ex.work[task_id] = Work(task_id, "timer", fire_at=fire_at, canceled=bool(leaf.get("isCanceled")))
        elif kind == 8:
            return "devhost does not implement call_http (durable HTTP); call an activity that makes the request"
        elif kind in (7, 9):
            return "devhost does not implement durable entities"
        return None

    def _schedule_activity(self, inst: Instance, work: Work, now: datetime) -> None:
        ex = inst.execution
        ex.history.append(event(EventType.TaskScheduled, now, work.task_id, Name=work.name, Version="",
                                Input=work.input_json))
        ex.work[work.task_id] = work
        self._push(("activity", inst.instance_id, ex.execution_id, work))

    def _schedule_sub(self, inst: Instance, work: Work, now: datetime) -> None:
        ex = inst.execution
        child_id = work.explicit_child_id or f"{ex.execution_id}:{work.task_id}"
        work.child_instance_id = child_id
        ex.history.append(event(EventType.SubOrchestrationInstanceCreated, now, work.task_id, Name=work.name,
                                Version="", InstanceId=child_id, Input=work.input_json))
        ex.work[work.task_id] = work
        if child_id in self.instances:
            # DurableTask.AzureStorage does not de-duplicate sub-orchestration starts: the child's ExecutionStarted
            # reaches the existing instance, which drops it ("Duplicate start event" while it runs, "Instance is
            # Completed" after), and nothing ever answers the parent's task. The parent waits forever, as here.
            reason = (f"sub-orchestration start for existing instance {child_id!r} "
                      f"({self.instances[child_id].status}) dropped; {inst.instance_id!r} will wait forever")
            log.warning("devhost: %s", reason)
            self.dropped_starts.append(reason)
            return
        try:
            self.start(work.name, work.input_json, child_id, (inst.instance_id, ex.execution_id, work.task_id))
        except ValueError as exc:
            ev = event(EventType.SubOrchestrationInstanceFailed, now, TaskScheduledId=work.task_id,
                       Reason=f"Orchestrator function '{work.name}' failed: {exc}", Details=str(exc))
            self._push(("episode", inst.instance_id, ex.execution_id, ev))

    def _implicit(self, inst: Instance, delivered: dict[str, Any] | None, now: datetime) -> None:
        """Retry bookkeeping the host does on its own: a timer after a failure, a re-attempt when it fires."""
        if delivered is None:
            return
        ex, kind = inst.execution, delivered["EventType"]
        key = delivered.get("TimerId") if kind == EventType.TimerFired else delivered.get("TaskScheduledId")
        work = ex.work.pop(key, None) if isinstance(key, int) else None
        if work is None:
            return
        if kind in (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed) and work.retry:
            timer_id = ex.next_id
            ex.next_id += 1
            last = work.attempt >= work.retry.max_attempts
            fire_at = now if last else now + timedelta(milliseconds=work.retry.first_interval_ms)
            ex.history.append(event(EventType.TimerCreated, now, timer_id, FireAt=dotnet_timestamp(fire_at)))
            ex.work[timer_id] = Work(timer_id, "timer", fire_at=fire_at, retry_of=work)
        elif kind == EventType.TimerFired and work.retry_of is not None:
            previous = work.retry_of
            assert previous.retry is not None
            if previous.attempt < previous.retry.max_attempts:
                again = Work(ex.next_id, previous.kind, previous.name, previous.input_json, previous.retry,
                             previous.attempt + 1, explicit_child_id=previous.explicit_child_id)
                ex.next_id += 1
                if again.kind == "activity":
                    self._schedule_activity(inst, again, now)
                else:
                    self._schedule_sub(inst, again, now)

    def _run_pooled_activity(self, instance_id: str, execution_id: str, work: Work) -> None:
        try:
            self._run_activity(instance_id, execution_id, work)
        except Exception as exc:  # a devhost bug must not vanish inside the pool
            log.exception("devhost activity thread error")
            self.errors.append(exc)
        finally:
            with self.lock:
                self.running_activities -= 1
                self.changed.notify_all()

    def _lost(self, point: str, instance_id: str, execution_id: str, work: Work) -> bool:
        """Re-deliver the activity when the redelivery policy loses this delivery at `point`."""
        policy = self.redelivery
        if policy is None or not policy.loses(point, work.name, instance_id, work.task_id, work.deliveries):
            return False
        with self.lock:
            work.deliveries += 1
            self.redelivered.append((work.name, instance_id, work.task_id, point))
            self._push(("activity", instance_id, execution_id, work))
        return True

    def _run_activity(self, instance_id: str, execution_id: str, work: Work) -> None:
        """Run a scheduled activity even if its orchestration ended meanwhile (the message was already sent, as
        in production); only a live execution gets the result. A lost delivery runs again."""
        task_id = work.task_id
        if self._lost("before", instance_id, execution_id, work):
            return
        outcome = self.runner.run(self.activities[work.name], work.input_json, instance_id, task_id)
        if self._lost("after", instance_id, execution_id, work):
            return
        with self.lock:
            inst = self._live(instance_id, execution_id)
            if inst is None or task_id not in inst.execution.work:
                return  # terminated or continued-as-new meanwhile: the result is dropped, as on the real host
            now = self.clock.now()
            if outcome.error is None:
                ev = event(EventType.TaskCompleted, now, TaskScheduledId=task_id, Result=outcome.result_json)
            else:
                ev = event(EventType.TaskFailed, now, TaskScheduledId=task_id,
                           Reason=outcome.error,
                           Details=outcome.details, FailureDetails=None)
            self._push(("episode", instance_id, execution_id, ev))

    def _complete(self, inst: Instance, output: Any, now: datetime) -> bool:
        ex = inst.execution
        ex.history.append(event(EventType.ExecutionCompleted, now, OrchestrationStatus=int(
            OrchestrationStatus.Completed), Result=json.dumps(output), FailureDetails=None))
        ex.history.append(event(EventType.OrchestratorCompleted, now))
        self._finish(inst, "Completed", output, now)
        self._notify_parent(inst, result=json.dumps(output))
        return True

    def _fail(self, inst: Instance, message: str, now: datetime) -> bool:
        ex = inst.execution
        ex.history.append(event(EventType.ExecutionCompleted, now, OrchestrationStatus=int(
            OrchestrationStatus.Failed), Result=message, FailureDetails={"ErrorMessage": message}))
        ex.history.append(event(EventType.OrchestratorCompleted, now))
        self._finish(inst, "Failed", f"Orchestrator function '{inst.name}' failed: {message}", now)
        self._notify_parent(inst, failed=message)
        return True

    def _continue_as_new(self, inst: Instance, input_text: Any, now: datetime) -> bool:
        ex = inst.execution
        ex.history.append(event(EventType.ContinueAsNew, now, OrchestrationStatus=int(
            OrchestrationStatus.ContinuedAsNew), Result=input_text))
        ex.history.append(event(EventType.OrchestratorCompleted, now))
        self._check_ended_execution(inst, ex)
        inst.previous_executions.append(ex)
        inst.execution = Execution(execution_id=new_execution_id(), input_token=input_text)
        inst.created_time = now  # the real host resets createdTime on each generation
        inst.status, inst.last_updated_time = "ContinuedAsNew", now
        self._push(("episode", inst.instance_id, inst.execution.execution_id, None))
        return True

    def _finish(self, inst: Instance, status: str, output: Any, now: datetime) -> None:
        inst.status, inst.output, inst.last_updated_time = status, output, now
        inst.execution.work.clear()
        if status != "Terminated":
            self._check_ended_execution(inst, inst.execution)
        with self.finished:
            self.finished_count += 1
            self.finished.notify_all()

    def _notify_parent(self, inst: Instance, result: str | None = None, failed: str | None = None,
                       terminated: str | None = None) -> None:
        """Tell a waiting parent how its child ended, as TaskOrchestrationDispatcher does: a terminated child's
        SubOrchestrationInstanceFailed carries the terminate reason itself, with no details."""
        if inst.parent_instance_id is None or inst.parent_execution_id is None or inst.parent_task_id is None:
            return
        parent = self._live(inst.parent_instance_id, inst.parent_execution_id)
        if parent is None or inst.parent_task_id not in parent.execution.work:
            return
        now = self.clock.now()
        if terminated is not None:
            ev = event(EventType.SubOrchestrationInstanceFailed, now, TaskScheduledId=inst.parent_task_id,
                       Reason=terminated, Details=None)
        elif failed is None:
            ev = event(EventType.SubOrchestrationInstanceCompleted, now, TaskScheduledId=inst.parent_task_id,
                       Result=result)
        else:
            ev = event(EventType.SubOrchestrationInstanceFailed, now, TaskScheduledId=inst.parent_task_id,
                       Reason=f"Orchestrator function '{inst.name}' failed: {failed}", Details=failed)
        self._push(("episode", parent.instance_id, parent.execution.execution_id, ev))

    def _check_ended_execution(self, inst: Instance, ex: Execution) -> None:
        if self.determinism_checks and inst.determinism_error is None:
            inst.determinism_error = self.replay_mismatch(inst.name, ex)

    def replay_mismatch(self, name: str, ex: Execution) -> str | None:
        """Replay the execution's last episode from its full history; a text when the actions differ."""
        if ex.last_context is None:
            return None
        replayed = invoke(self.orchestrators[name], ex.last_context)
        again = normalized(replayed.actions)
        if again != ex.actions:
            return NonDeterminismError.describe(name, ex.actions, again)
        return None

