"""Generator plugins (entry-point group ``synth.generators``)."""

from synth.generators.base import Generator, PrivacyGuarantee

__all__ = ["Generator", "PrivacyGuarantee"]
