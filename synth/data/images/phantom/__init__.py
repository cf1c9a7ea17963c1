"""An in-silico chest X-ray set: frontal radiographs with CheXpert labels and reports, made offline.

:func:`make_cxr_phantom` writes it in the MIMIC-CXR-JPG layout (`synth data cxr-phantom`).
"""

from synth.data.images.phantom.dataset import make_cxr_phantom
from synth.data.images.phantom.render import PHANTOM_FINDINGS

__all__ = ["PHANTOM_FINDINGS", "make_cxr_phantom"]
