"""Notifications when a restore or a drill run starts or ends (NOTIFY_TARGETS; docs/notifications.md).

- ``targets``   the NOTIFY_TARGETS setting: parsed strictly, never repeated in an error; the URL-free snapshot
                orchestrations get
- ``notices``   a start or end as plain JSON (the generic webhook's body), with a stable delivery id
- ``payloads``  a notice rendered for Teams (Adaptive Card), Slack (Block Kit) and Event Grid (CloudEvents 1.0)
- ``delivery``  one POST, what its answer means, Retry-After and backoff, redaction of the URL's secret parts
"""
