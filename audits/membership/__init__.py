"""Membership-inference audit: distance (GAN-Leaks CAL), DOMIAS and shadow-model attacks.

Modules: :mod:`.audit` (the plugin), :mod:`.roc` (AUC, TPR at low FPR, advantage, epsilon
lower bound), :mod:`.distance_attack`, :mod:`.domias`, :mod:`.shadow_attack`.
"""

from synth.audits.membership.audit import MembershipAudit

__all__ = ["MembershipAudit"]
