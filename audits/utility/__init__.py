"""Utility and fairness audits: downstream models trained on synthetic data and tested on
real data (TSTR) against models trained on real data (TRTR)."""
