"""The command line (`python -m pgflex_restore ...`): restores, drills and the demo, run in-process in devhost.

Not deployed (.funcignore): it is the one place that composes the core with devhost, the emulator and the
Functions app. The core package (`pgflex_restore/`) never imports it except from `python -m pgflex_restore`.
"""
