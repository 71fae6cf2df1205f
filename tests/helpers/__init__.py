"""Test helpers shared by every test folder (importable as `helpers`: pytest's pythonpath)."""
