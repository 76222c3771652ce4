"""One tiny app per kind of function the Python worker refuses to load (see test_worker_rules.py)."""
