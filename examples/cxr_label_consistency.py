"""Check that generated chest X-rays show the findings their prompts asked for (label consistency).

Trains the small findings CNN (:class:`synth.vision.FindingsClassifier`) on the real
training images of a run's data set and scores the run's synthetic images with it. For
each finding, AUROC of the classifier's score between images prompted with that finding
(label 1 in synthetic.csv) and the others. A generator that renders the prompted finding
reaches well above 0.5; the acceptance bar of the text-to-CXR issue is 0.7 for
cardiomegaly and pleural effusion after a GPU run.

Usage (after ``synth generate --config examples/cxr_diffusion_gpu.yaml``)::

    python examples/cxr_label_consistency.py --run runs/cxr_diffusion_gpu --real-root $MIMIC_CXR_JPG \\
        [--real-splits train] [--max-real 20000] [--require cardiomegaly=0.7 pleural_effusion=0.7]

Exit code 0 when every ``--require`` bar is met, 1 otherwise. Prints the device, the
numbers and ``os.getloadavg()``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from synth.data.images.io import load_images
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.vision import FindingsClassifier, per_finding_auroc

FINDINGS = ["cardiomegaly", "pleural_effusion", "pneumothorax", "consolidation", "support_devices"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="output folder of a cxr_diffusion run")
    ap.add_argument("--real-root", type=Path, required=True, help="the real MIMIC-CXR-JPG-layout folder it trained on")
    ap.add_argument("--real-splits", nargs="*", default=None, help="official splits to train the classifier on")
    ap.add_argument("--max-real", type=int, default=20000, help="at most this many real images (whole patients)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--require", nargs="*", default=["cardiomegaly=0.7", "pleural_effusion=0.7"])
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    synthetic = pd.read_csv(args.run / "synthetic.csv")
    generated = load_images([str(args.run / p) for p in synthetic["image"]])
    size = generated.shape[-1]
    real = load_mimic_cxr(args.real_root, splits=args.real_splits, max_images=args.max_real)
    real_images = load_images(real["image"].tolist(), root=args.real_root, size=size)
    clf = FindingsClassifier(FINDINGS, epochs=args.epochs, device=device).fit(real_images, real[FINDINGS].to_numpy(float))
    prompted = synthetic.reindex(columns=FINDINGS).to_numpy(float)
    aurocs = per_finding_auroc(clf.predict_proba(generated), np.where(np.isnan(prompted), 0.0, prompted), FINDINGS)
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(json.dumps({"device": device_name, "n_real": len(real), "n_generated": len(synthetic), "resolution": size,
                      "auroc": aurocs, "load": os.getloadavg()}, indent=2))
    failed = []
    for bar in args.require:
        name, threshold = bar.split("=")
        value = aurocs.get(name, float("nan"))
        if not value > float(threshold):
            failed.append(f"{name}: AUROC {value:.3f} <= {threshold}")
    print("PASSED" if not failed else "FAILED: " + "; ".join(failed))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
