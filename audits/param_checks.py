"""Validation of audit constructor parameters, with errors that name the config key.

Audit parameters come from the config under ``audit.params.<audit name>``; a bad value
raises :class:`~synth.errors.ConfigError` naming that key, the expected range and the
value received, instead of failing deep inside a computation.
"""

from __future__ import annotations

import numpy as np

from synth.errors import ConfigError


def check_int(
    audit: str, key: str, value: object, minimum: int, example: int | None = None, *, maximum: int | None = None
) -> int:
    """``value`` as an int in ``[minimum, maximum]``, else a ConfigError naming ``audit.params.<audit>.<key>``."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    if not ok or value < minimum or (maximum is not None and value > maximum):  # type: ignore[operator]
        expected = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        example = example if example is not None else max(minimum, 1)
        raise ConfigError(
            f"audit.params.{audit}.{key}: expected a whole number {expected}, got {value!r}. "
            f"Fix it in the config, e.g. `audit: {{params: {{{audit}: {{{key}: {example}}}}}}}`."
        )
    return int(value)
