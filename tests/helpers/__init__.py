"""Data builders shared by tests/ and benchmarks/ (importable as ``helpers.*``: pytest's
``pythonpath`` setting puts tests/ on the path, so no test edits ``sys.path``)."""
