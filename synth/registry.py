"""Plugin discovery through entry points.

Generators register under the group ``synth.generators`` and audits under
``synth.audits`` (see pyproject.toml); third-party packages add their own the same way.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from synth.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from synth.audits.base import Audit
    from synth.generators.base import Generator

GENERATOR_GROUP = "synth.generators"
AUDIT_GROUP = "synth.audits"


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def generator_names() -> list[str]:
    """Names of the installed generator plugins, sorted."""
    return sorted(_entry_points(GENERATOR_GROUP))


# The order audits run and appear in result.json: cheap fidelity checks first, privacy last.
_AUDIT_ORDER = ("fidelity_columns", "fidelity_pairs", "detection", "coverage", "subgroup_fidelity",
                "utility", "fairness", "memorization", "anonymeter", "membership")


def audit_names() -> list[str]:
    """Names of the installed audit plugins: synth's own in a fixed order, then third-party ones sorted."""
    names = _entry_points(AUDIT_GROUP)
    return [n for n in _AUDIT_ORDER if n in names] + sorted(n for n in names if n not in _AUDIT_ORDER)


def _load(group: str, kind: str, name: str, key: str) -> type:
    eps = _entry_points(group)
    if name not in eps:
        raise ConfigError(
            f"{key}: unknown {kind} '{name}'." + did_you_mean(name, eps)
            + f" Installed {kind}s: {', '.join(sorted(eps)) or '(none)'}."
            + (f" Run `synth {kind}s list` to see them." if kind in ("generator", "audit") else "")
        )
    return eps[name].load()


def generator_class(name: str, key: str = "generator.name") -> type[Generator]:
    """The generator class registered as ``name``; ConfigError naming ``key`` if unknown."""
    return _load(GENERATOR_GROUP, "generator", name, key)


def audit_class(name: str, key: str = "audit.audits") -> type[Audit]:
    """The audit class registered as ``name``; ConfigError naming ``key`` if unknown."""
    return _load(AUDIT_GROUP, "audit", name, key)
