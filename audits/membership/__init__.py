"""Membership-inference audit: distance (GAN-Leaks CAL), DOMIAS and per-target shadow-model attacks.

Modules: :mod:`.audit` (the plugin), :mod:`.design` (who is evaluated against which
reference sample), :mod:`.distance_attack`, :mod:`.domias`, :mod:`.shadow_attack`; the
ROC statistics live in :mod:`synth.stats.roc`.
"""

from synth.audits.membership.audit import MembershipAudit

__all__ = ["MembershipAudit"]
