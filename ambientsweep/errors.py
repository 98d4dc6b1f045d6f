"""Errors a user can fix. The CLI prints their message (no traceback) and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input: a sweep file, a CLI option, missing data or weights.

    The message says what is wrong and where.
    """


class DatasetNotFoundError(UserError):
    """A dataset's files are not where the config says."""


class WeightsMissingError(UserError):
    """Feature-extractor weights are not in the cache; the message names the fetch command."""


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss."""
