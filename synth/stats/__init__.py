"""Statistics shared by audits and generators: intervals, bootstrap replicates, ROC and
differential-privacy epsilon bounds. Pure numerics on arrays; no audit or generator code."""
