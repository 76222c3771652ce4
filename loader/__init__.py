"""The loader: loads restored Azure Backup files (pg_dump archives and pg_dumpall SQL scripts) into a PostgreSQL
server and checks the result (docs/loading.md is its contract).

It runs as a Container Apps job (`python -m loader`, input in ``LOAD_REQUEST``) and from the CLI
(`python -m pgflex_restore load`). It may import `pgflex_restore` (identity, the archive reader), never the Functions
app, devhost or the emulator: the image ships only `loader/` and `pgflex_restore/`.
"""
