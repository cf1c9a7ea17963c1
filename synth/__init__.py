"""synth: synthetic clinical data with an honest audit.

Library use::

    import synth
    result = synth.generate("release.yaml")        # or a RunConfig / dict
    result.passed                                  # the verdict of the gates
    audit = synth.audit(real=train_df, holdout=holdout_df, synthetic=syn_df)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "generate"]


def generate(config: Any, **kwargs: Any) -> Any:
    """Run the whole pipeline from a config (path, dict or RunConfig); see :func:`synth.pipeline.generate`."""
    from synth.pipeline import generate as _generate

    return _generate(config, **kwargs)


def audit(**kwargs: Any) -> Any:
    """Audit synthetic data against real data; see :func:`synth.pipeline.audit`."""
    from synth.pipeline import audit as _audit

    return _audit(**kwargs)
