"""User-facing errors.

Every mistake a user can make (a bad config key, a missing file, a column that is not
in the data) raises a :class:`SynthUserError`. The CLI prints its message as one
paragraph and exits with code 2; library callers can catch it. Anything else that
escapes is a bug in synth (or a plugin): the CLI prints one paragraph saying where the
details went and exits with code 3, so a pipeline never reads a crash as a verdict.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SynthUserError(Exception):
    """A mistake in the user's input: config, data or command line.

    The message must name the file / key / column, say what was expected and how to fix it.
    """


class ConfigError(SynthUserError):
    """The run config is invalid (unknown key, wrong type, inconsistent values)."""


class DataError(SynthUserError):
    """The data cannot be used as given (missing file, bad format, bad column)."""


class GateError(SynthUserError):
    """A gate expression in the config cannot be parsed or names an unknown metric."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{matches[0]}'?" if matches else ""


class InternalError(Exception):
    """synth or a plugin failed where it must not (e.g. a generator produced an empty column).

    Not the user's mistake: the CLI exits with code 3. The message names what failed.
    """
