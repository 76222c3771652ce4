"""Restore drills: the plan, which instances a run drills, how a point is chosen, how restored dumps are checked,
and the records and alerts a run leaves. Pure logic; the drill orchestrations and activities use it."""
