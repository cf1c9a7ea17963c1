"""Bt-GAN: fair, density-preserving synthetic clinical tables (generator plugin ``btgan``).

Built from the two mechanisms of Ramachandranpillai et al., "Bt-GAN: Generating Fair
Synthetic Healthdata via Bias-transforming Generative Adversarial Networks", JAIR 79
(2024), arXiv:2404.13634, on a CTGAN-style mixed-type core. No reference code exists; where
the paper leaves room, these are the choices made here (each module says more):

**Core (Triple-GAN).** A generator, a WGAN-GP critic and an outcome classifier.
Numeric columns get mode-specific normalisation (:mod:`.gmm`, :mod:`.encoding`: Gaussian
mixtures fitted for all columns at once, not one scikit-learn fit per column), discrete
columns Gumbel-softmax outputs, nullable columns missing-value indicators. CTGAN's
conditional vector and training-by-sampling (:mod:`.sampler`), PacGAN packing (``pac``
rows per critic input) and the gradient penalty stabilise training on small tables; the
output comes from an exponential moving average of the generator's weights, and early
stopping keeps the average whose rows are closest (energy distance) to records held out
from the training split (:mod:`.validation`). All networks are row-wise (layer norm, no
batch norm, no dropout).

**Division of labour in a row** (:mod:`.layout`). The *sensitive* columns are not
generated: every row is conditioned on its subgroup (the intersection of the sensitive
columns, e.g. race x gender, :mod:`.groups`), so subgroup shares in the output are set
exactly, to the real shares or to ``subgroup_shares``. The *outcome* is not generated
either: the classifier labels each generated row (a draw from its predicted
probabilities). Everything else comes from the generator.

**(i) Information-constrained generation** (:mod:`.fairness`). The paper asks the data
generation process to be a fair transformation for a chosen fairness notion. Here the
constraint acts where the outcome is made: the classifier's *fair head* learns the outcome
from the records (cross-entropy, importance-weighted so the tilted draws of training-by-
sampling do not bias its rates) and, in steps of its own, lowers a dependence penalty:
the spread across subgroups of the distribution of its scores, as the shares each decile
of the batch's scores would flag (demographic parity; or the same within each true class,
given by an unconstrained *reference head*, for equalized odds). Shifting or stretching
all scores together does not change it, so it cannot be met by predicting fewer positives
for everyone: only the cross-entropy sets the outcome rate. It is measured on generated
rows drawn like the output and on records drawn uniformly (generated rows only with DP).
The features are detached in the penalty, so fairness is reached by how the outcome is
assigned, not by moving subgroups' features; ``fairness_weight`` sets the size of the
penalty's steps against the cross-entropy's, trading label fidelity for fairness (0 turns
it off; above 1 the outcome's fit goes fast, see the parameter's description). Where the
outcome is already independent of the subgroups the penalty is ~0 and changes nothing.

**(ii) Score-based weighted sampling** (:mod:`.weights`). The paper weights training
samples by a density score so that under-represented regions are learned. Here the score
is the distance to the k-th nearest other training record in synth's shared mixed-type
encoding (exact search, :mod:`synth.neighbors`); records fall into equal-count density
buckets, sparse buckets are drawn up to ``weight_cap`` times as often, and the bucket is a
condition of the generator that sampling draws with its real frequency, so the output
keeps the real distribution (and subgroup shares are set by conditioning, above).

**Discriminator rejection sampling** (:mod:`.rejection`, optional): the critic's scores are
calibrated into a density-ratio logit after training; packs are accepted as in Azadi et al.

**Differential privacy** (:mod:`.privacy`, optional, ``dp_epsilon``): DP-SGD with Opacus on
the critic and the classifier jointly (per-record gradients by ``torch.func``, clipped and
noised by Opacus' ``DPOptimizer``), Poisson batches, ``pac = 1``, subgroup counts released
with the Gaussian mechanism, both composed by Opacus' RDP accountant; fixed encoding modes
from the schema's bounds and levels, which must be declared in the config (inferred ones are
people's values, :mod:`.public_schema`), no density weights, no training-by-sampling, no fairness penalty
on records, no early stopping and no rejection sampling (each would read records outside
the accounting). ``generator.privacy`` states the epsilon actually spent.

Device: ``device: auto`` trains on CUDA when available; same-seed output is identical on
the CPU (CUDA kernels may differ in the last bits).
"""

from synth.generators.btgan.generator import BtGANGenerator
from synth.generators.btgan.params import BtGANParams

__all__ = ["BtGANGenerator", "BtGANParams"]
