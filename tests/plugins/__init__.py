"""Helpers for the auth tests: exec credential plugins written as tiny Python scripts, contexts."""
