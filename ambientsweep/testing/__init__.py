"""Reusable test suites for plug-ins (import only from tests; needs pytest)."""

from ambientsweep.testing.method_cases import MethodCases, tiny_config, tiny_corruption_input

__all__ = ["MethodCases", "tiny_config", "tiny_corruption_input"]
