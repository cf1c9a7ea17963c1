"""Image audits (chest X-rays and other image data): fidelity, memorization, membership.

One module per concept:

- :mod:`.image_sets`: reading the three image sets (training, holdout, synthetic) at one size;
- :mod:`.features`: the image encoder whose embeddings FID/KID and the embedding-space
  search use (a findings classifier trained on the training images, or a local TorchScript
  encoder the user gives);
- :mod:`.fid` (``image_fid``): FID and KID with bootstrap intervals and a real-vs-real floor;
- :mod:`.diversity` (``image_diversity``): MS-SSIM between images generated from one prompt;
- :mod:`.label_consistency` (``image_label_consistency``): per-finding AUROC of a classifier
  trained on real images, applied to generated images against their prompted findings;
- :mod:`.nearest_images` (``image_memorization``): nearest-training-image search in pixel and
  embedding space, Carlini et al.'s calibrated distance, copies against a holdout baseline;
- :mod:`.prompt_memorization` (``prompt_memorization``): Wen et al.'s noise-prediction norm per
  training prompt and per-token attribution;
- :mod:`.diffusion_membership` (``diffusion_membership``): loss and PIA membership attacks on
  the diffusion model;
- :mod:`.denoiser` and :mod:`.gallery`: the white-box calls into a diffusion model, and
  thumbnails for the opt-in gallery.
"""
