"""Benchmark: cxr_diffusion training and sampling throughput against a plain diffusers loop on the same UNet.

Data: a phantom chest X-ray set (``make_cxr_phantom``, 128 px JPEGs in the MIMIC-CXR-JPG
layout, read at the model's resolution), made in a temporary folder unless ``--root``
names a MIMIC-CXR-JPG-layout folder. Both methods train the same UNet configuration
(same seed, batch size and steps) with the same frozen text encoder:

- ``synth``: :func:`synth.generators.cxr_diffusion.training.train` as ``fit`` runs it:
  images decoded once into a uint8 tensor, prompt states encoded once per distinct
  prompt (this setup is timed apart: it is paid once per fit, so it weighs less the more
  steps a fit runs), accelerate, EMA, prompt dropout;
- ``plain``: the loop of diffusers' ``train_text_to_image.py`` example: a ``Dataset``
  that opens and resizes each image file per item (Pillow), a ``DataLoader`` with
  shuffling, the tokenizer and frozen text encoder run on every batch, then the same
  noise / timestep / MSE / AdamW / EMA step.

Sampling: ``synth`` is :meth:`CXRDiffusionPipeline.generate` (prompts encoded once, the
conditional and unconditional halves of classifier-free guidance in one batch); ``plain``
encodes each batch's prompts and runs the two halves as two UNet calls per step, as a
hand-written loop does. Each timing excludes warm-up; every result line carries
``os.getloadavg()`` because other jobs may share the machine.

Usage::

    .venv/bin/python bench/bench_cxr_diffusion.py --steps 20 --images 256 [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from synth.data.images.io import read_images
from synth.data.images.mimic_cxr import load_mimic_cxr
from synth.data.images.phantom import make_cxr_phantom
from synth.generators.cxr_diffusion.conditioning import Conditioning, prompt_width
from synth.generators.cxr_diffusion.pipeline import CXRDiffusionPipeline, sampling_scheduler
from synth.generators.cxr_diffusion.text_encoder import PromptEncoder
from synth.generators.cxr_diffusion.training import noise_scheduler, train
from synth.generators.cxr_diffusion.unet import build_unet


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    import platform

    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def make_unet(args, encoder: PromptEncoder, seed: int):
    torch.manual_seed(seed)
    return build_unet(resolution=args.resolution, block_out_channels=args.channels, layers_per_block=1,
                      attention_head_dim=32, cross_attention_dim=encoder.dim, num_views=2)


def bench_synth(args, paths, prompts, views, encoder) -> tuple[float, float]:
    """(setup, training) seconds: decoding the images and encoding the prompts once, as fit does; then the steps."""
    started = time.perf_counter()
    images = torch.from_numpy(read_images(paths, size=args.resolution))
    cond = Conditioning(encoder, prompts, prompt_width(encoder, prompts))
    setup = time.perf_counter() - started
    unet = make_unet(args, encoder, 0).to(args.device)
    started = time.perf_counter()
    train(unet, images, views, cond, unknown_view=2, steps=args.steps, batch_size=args.batch, learning_rate=1e-4,
          warmup_steps=0, accumulation=1, mixed_precision="no", prompt_dropout=0.1, ema_decay=0.995,
          scheduler=noise_scheduler(1000, "epsilon"), seed=0, device=args.device, progress=False)
    if args.device == "cuda":
        torch.cuda.synchronize()
    return setup, time.perf_counter() - started


class FileDataset(torch.utils.data.Dataset):
    """What train_text_to_image.py does per item: open, convert, resize, to tensor, normalise."""

    def __init__(self, paths, prompts, views, size):
        self.paths, self.prompts, self.views, self.size = paths, prompts, views, size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image, ImageOps

        with Image.open(self.paths[i]) as img:
            img = ImageOps.fit(img.convert("L"), (self.size, self.size), method=Image.Resampling.BICUBIC)
            x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 127.5 - 1.0)[None]
        return x, self.prompts[i], int(self.views[i])


def bench_plain(args, paths, prompts, views, encoder) -> float:
    from diffusers.training_utils import EMAModel

    unet = make_unet(args, encoder, 0).to(args.device)
    scheduler = noise_scheduler(1000, "epsilon")
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-4, weight_decay=1e-2)
    ema = EMAModel(unet.parameters(), decay=0.995)
    loader = torch.utils.data.DataLoader(FileDataset(paths, prompts, views.tolist(), args.resolution),
                                         batch_size=args.batch, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    started = time.perf_counter()
    done = 0
    unet.train()
    while done < args.steps:
        for x, text, v in loader:
            tok = encoder.tokenizer(list(text), padding="max_length", truncation=True, max_length=encoder.max_tokens,
                                    return_tensors="pt").to(args.device)
            with torch.no_grad():
                hidden = encoder.model(**tok).last_hidden_state
            x, v = x.to(args.device), v.to(args.device)
            noise = torch.randn_like(x)
            t = torch.randint(0, 1000, (x.shape[0],), device=args.device)
            pred = unet(scheduler.add_noise(x, noise, t), t, encoder_hidden_states=hidden,
                        encoder_attention_mask=tok["attention_mask"].bool(), class_labels=v).sample
            loss = torch.nn.functional.mse_loss(pred, noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            ema.step(unet.parameters())
            done += 1
            if done == args.steps:
                break
    if args.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def bench_sampling(args, prompts, encoder) -> tuple[float, float]:
    unet = make_unet(args, encoder, 1).to(args.device).eval()
    sched = noise_scheduler(1000, "epsilon")
    pipe = CXRDiffusionPipeline(unet, sampling_scheduler(sched.config, "ddim"))
    chosen = prompts[: args.samples]
    width = prompt_width(encoder, chosen)
    views = torch.zeros(len(chosen), dtype=torch.long)
    started = time.perf_counter()
    enc, null = encoder.encode(chosen, width=width), encoder.encode([""], width=width)
    for b in range(0, len(chosen), args.batch):
        pipe.generate(enc.hidden[b:b + args.batch], enc.mask[b:b + args.batch], views[b:b + args.batch], null.hidden,
                      null.mask, 2, guidance_scale=3.0, steps=args.sampling_steps, seed=b, progress=False)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    ddim = sampling_scheduler(sched.config, "ddim")
    with torch.no_grad():
        for b in range(0, len(chosen), args.batch):
            batch = chosen[b:b + args.batch]
            tok = encoder.tokenizer(batch, padding="max_length", truncation=True, max_length=encoder.max_tokens,
                                    return_tensors="pt").to(args.device)
            empty = encoder.tokenizer([""] * len(batch), padding="max_length", max_length=encoder.max_tokens,
                                      return_tensors="pt").to(args.device)
            cond, uncond = encoder.model(**tok).last_hidden_state, encoder.model(**empty).last_hidden_state
            v = torch.zeros(len(batch), dtype=torch.long, device=args.device)
            x = torch.randn((len(batch), 1, args.resolution, args.resolution), generator=torch.Generator().manual_seed(b))
            x = x.to(args.device)
            ddim.set_timesteps(args.sampling_steps)
            for t in ddim.timesteps:
                e_c = unet(x, t, encoder_hidden_states=cond, encoder_attention_mask=tok["attention_mask"].bool(),
                           class_labels=v).sample
                e_u = unet(x, t, encoder_hidden_states=uncond, encoder_attention_mask=empty["attention_mask"].bool(),
                           class_labels=torch.full_like(v, 2)).sample
                x = ddim.step(e_u + 3.0 * (e_c - e_u), t, x).prev_sample
    return ours, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, help="a MIMIC-CXR-JPG-layout folder (default: a fresh phantom set)")
    ap.add_argument("--images", type=int, default=256, help="phantom images to make")
    ap.add_argument("--steps", type=int, default=20, help="training steps per method")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--channels", type=int, nargs="+", default=[32, 64, 64])
    ap.add_argument("--samples", type=int, default=32, help="images to sample per method")
    ap.add_argument("--sampling-steps", type=int, default=25)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or make_cxr_phantom(Path(tmp) / "phantom", args.images, size=128)
        table = load_mimic_cxr(root)
        paths = [str(Path(root) / p) for p in table["image"]]
        prompts = table["prompt"].tolist()
        views = torch.tensor((table["view_position"] == "AP").astype(int).to_numpy())
        encoder = PromptEncoder(max_tokens=128, device=args.device)
        print(f"device: {device_name(args.device)}; {len(paths)} images at {args.resolution} px, UNet {args.channels}, "
              f"batch {args.batch}, {args.steps} steps", flush=True)
        bench_synth(args, paths[: args.batch * 2], prompts[: args.batch * 2], views[: args.batch * 2], encoder)  # warm-up
        setup_s, synth_s = bench_synth(args, paths, prompts, views, encoder)
        plain_s = bench_plain(args, paths, prompts, views, encoder)
        n = args.steps * args.batch
        print(f"training  synth {n / synth_s:8.2f} images/s ({synth_s:.1f} s; once per fit: {setup_s:.1f} s decoding "
              f"{len(paths)} images and encoding their prompts)  plain diffusers loop {n / plain_s:8.2f} images/s "
              f"({plain_s:.1f} s)  ratio {plain_s / synth_s:.2f}x per step, {plain_s / (synth_s + setup_s):.2f}x with "
              f"the setup over these {args.steps} steps  load {os.getloadavg()}", flush=True)
        ours, plain = bench_sampling(args, prompts, encoder)
        m = min(args.samples, len(prompts))
        print(f"sampling  synth {m / ours:8.2f} images/s ({args.sampling_steps} DDIM steps, guidance 3)  "
              f"plain loop {m / plain:8.2f} images/s  ratio {plain / ours:.2f}x  load {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
