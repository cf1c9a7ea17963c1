"""Validation of audit constructor parameters, with errors that name the config key.

Audit parameters come from the config under ``audit.params.<audit name>``; a bad value
raises :class:`~synth.errors.ConfigError` naming that key, the expected range and the
value received, instead of failing deep inside a computation.
"""

from __future__ import annotations

from synth.errors import ConfigError


def check_int(audit: str, key: str, value: object, minimum: int, example: int) -> int:
    """``value`` as an int ``>= minimum``, else a ConfigError naming ``audit.params.<audit>.<key>``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"audit.params.{audit}.{key}: expected a whole number >= {minimum}, got {value!r}. "
            f"Fix it in the config, e.g. `audit: {{params: {{{audit}: {{{key}: {example}}}}}}}`."
        )
    return int(value)
