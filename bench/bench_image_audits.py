"""Benchmark: the image audits' two heavy steps against peers, on the same images, in one run.

1. **FID feature extraction** (images/s): synth's image encoder (the findings classifier's
   pooled features, :mod:`synth.audits.images.features`, at the images' own size) against
   pytorch-fid's ``InceptionV3`` (pool3, 2048-d; the images resized to 299 px and repeated to
   three channels, as pytorch-fid does). pytorch-fid needs torchvision, whose PyPI wheels link
   the CUDA build of torch, so it runs in its own interpreter (``--peer-python``, a virtual
   environment with ``torch torchvision pytorch-fid`` from PyPI); without one the peer is
   reported as unavailable. pytorch-fid downloads its Inception weights at run time, which is
   impossible here: the peer runs the same architecture with its random initial weights
   (speed does not depend on the weights' values; its FID values are therefore not compared).
2. **Nearest-image search** (the image-memorization audit's step: every query image's 50
   nearest training images, Euclidean on pixels): :func:`synth.neighbors.search.nearest`
   against scikit-learn's exact brute-force ``NearestNeighbors`` on the same arrays
   (pytorch-fid and clean-fid have no nearest-neighbour search).

Images: an in-silico phantom set (synth's own CXR phantom) of ``--base`` radiographs at
``--size`` px, extended to the sizes asked for by random shifts (up to 3 px) and noise (sd 2
grey levels), so the search sees ``--search`` distinct images per side. Every result line
prints ``os.getloadavg()``: other work on the machine slows both sides.

Usage::

    .venv/bin/python bench/bench_image_audits.py --features 1000 --search 10000 --peer-python /path/to/peer/bin/python
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

PEER_SCRIPT = textwrap.dedent('''
    import sys, time, numpy as np, torch
    import pytorch_fid.inception as inception
    # no weights can be downloaded: keep the architecture's initial weights (speed only)
    inception.load_state_dict_from_url = lambda *a, **k: inception._inception_v3(
        num_classes=1008, aux_logits=False, weights=None).state_dict()
    torch.set_num_threads(int(sys.argv[2]))
    images = torch.from_numpy(np.load(sys.argv[1]))  # (n, 1, s, s) float32 in [0, 1]
    model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    with torch.no_grad():
        model(images[:2].repeat(1, 3, 1, 1))  # warm-up
        start = time.perf_counter()
        for i in range(0, len(images), 50):
            model(images[i:i + 50].repeat(1, 3, 1, 1))[0]
        print(time.perf_counter() - start)
''')


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def phantom_images(base: int, size: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 1, size, size) float32 in [0, 1], labels (n, 4)): phantom radiographs, shifted and noised copies."""
    from synth.data.images.io import load_images
    from synth.data.images.mimic_cxr import load_mimic_cxr
    from synth.data.images.phantom import make_cxr_phantom

    root = Path(tempfile.gettempdir()) / f"synth-bench-phantom-{base}-{size}-{seed}"
    make_cxr_phantom(root, base, seed=seed, size=max(32, size))
    table = load_mimic_cxr(root, views=None)
    images = load_images([str(root / p) for p in table["image"]], size=size)
    labels = table[["cardiomegaly", "pleural_effusion", "pneumothorax", "support_devices"]].astype(float).fillna(0)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(images), n)
    out = np.empty((n, 1, size, size), dtype=np.float32)
    for j, i in enumerate(pick):
        dy, dx = rng.integers(-3, 4, 2)
        out[j] = np.roll(images[i], (dy, dx), axis=(1, 2)) + rng.normal(0, 2 / 255, images[i].shape)
    return np.clip(out, 0, 1), labels.to_numpy()[pick]


def bench_features(images: np.ndarray, labels: np.ndarray, peer_python: str | None, threads: int) -> None:
    from synth.vision import FindingsClassifier

    classifier = FindingsClassifier(["a", "b", "c", "d"], epochs=1).fit(images[:200], labels[:200])
    classifier.features(images[:8])  # warm-up
    start = time.perf_counter()
    classifier.features(images)
    ours = time.perf_counter() - start
    print(f"feature extraction, synth encoder: {len(images)} images of {images.shape[-1]} px in {ours:.2f} s = "
          f"{len(images) / ours:.0f} images/s ({load()})")
    if peer_python is None:
        print("feature extraction, pytorch-fid InceptionV3: unavailable (give --peer-python: an interpreter with torch, "
              "torchvision and pytorch-fid; torchvision's PyPI wheels do not load beside the CPU build of torch)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "images.npy", images)
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        done = subprocess.run([peer_python, str(script), str(Path(tmp) / "images.npy"), str(threads)],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"feature extraction, pytorch-fid: failed ({done.stderr.strip()[-400:]})")
        return
    peer = float(done.stdout.strip().splitlines()[-1])
    print(f"feature extraction, pytorch-fid InceptionV3 (299 px, random weights): {len(images)} images in {peer:.2f} s = "
          f"{len(images) / peer:.1f} images/s ({load()})")
    print(f"ratio (synth images/s over pytorch-fid images/s): {peer / ours:.1f}x")


def bench_search(queries: np.ndarray, reference: np.ndarray, k: int) -> None:
    from sklearn.neighbors import NearestNeighbors

    from synth.neighbors.search import nearest

    q = queries.reshape(len(queries), -1).astype(np.float64)
    r = reference.reshape(len(reference), -1).astype(np.float64)
    start = time.perf_counter()
    d_ours, _ = nearest(q, r, k=k)
    ours = time.perf_counter() - start
    print(f"nearest-image search, synth: {len(q)} x {len(r)} images ({q.shape[1]} pixels), k={k}: {ours:.1f} s ({load()})")
    start = time.perf_counter()
    d_peer, _ = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(r).kneighbors(q)
    peer = time.perf_counter() - start
    print(f"nearest-image search, scikit-learn brute force: {peer:.1f} s ({load()})")
    print(f"ratio (scikit-learn time over synth time): {peer / ours:.1f}x; largest distance difference "
          f"{np.abs(d_ours - d_peer).max():.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=1000, help="images for the feature-extraction timing")
    parser.add_argument("--search", type=int, default=10000, help="query and training images each for the search")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--base", type=int, default=400, help="distinct phantom radiographs the sets are made from")
    parser.add_argument("--k", type=int, default=50, help="neighbours per query (the audit's calibration uses 50)")
    parser.add_argument("--peer-python", default=None, help="interpreter with torch, torchvision and pytorch-fid")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads, both sides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = phantom_images(args.base, args.size, max(args.features, 2 * args.search), seed=0)
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads; {load()}")
    if args.features:
        bench_features(images[: args.features], labels[: args.features], args.peer_python, args.threads)
    if args.search:
        bench_search(images[: args.search], images[args.search: 2 * args.search], args.k)


if __name__ == "__main__":
    main()
