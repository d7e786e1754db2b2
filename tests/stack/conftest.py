"""Fixtures for the stack tests; the helpers live in stack_support.py."""

from stack_support import endpoint, function_logs, local_aws  # noqa: F401  (pytest finds fixtures by name)
