"""The pure core: ARM ids, bodies, parsing, selection, polling, client. No Functions imports."""
