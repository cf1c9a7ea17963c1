"""Fidelity audits: column marginals, pairwise dependence, detection, coverage and
subgroup fidelity, with the column statistics and figures they share."""
