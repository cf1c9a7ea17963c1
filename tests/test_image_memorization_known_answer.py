"""Known answer (slow): a diffusion model trained with a few images duplicated under marker prompts memorizes them,
and the image audits say so; the same model trained without the duplicates does not.

Sizes (tiny CPU model): a phantom set of 310 radiographs at 32 px. The duplicated set is 190 single training
images plus three of them added 20 times each (60 extra rows) under a de-identification sentence of the
phantom reports with its markers kept (e.g. "Comparison is made to the prior study from ___."): 250 rows. The
clean set is 250 distinct images (the same 190 and 60 others), so both models see as many rows for as many
steps. The last 60 images are the holdout. Every other prompt has its markers stripped, while the same
sentences, markers removed, still occur in them: the marker is what sets a duplicated prompt apart. UNet:
32 px, channels [16, 32], one layer per block, 2,400 steps of 16 images at learning rate 2e-3, no EMA;
sampled with guidance 1.5.

Why these sizes (each measured, stop 18): with 70 single images, training long enough for copies (2,400
steps) also memorized the single-image prompts, so the marker prompts fell out of the top of the ranking;
with 190, the single images are seen about 150 times each and the duplicated ones about 3,000 times. A
heavier duplicated share (60 copies each, 72 % of rows) gave copies but dropped the marker prompts out of
the top of the ranking, presumably because the unconditional branch, trained on the same rows, reproduces
the duplicated images too, which hides them from Wen et al.'s conditional-minus-unconditional norm. Guidance
3.0 left the closest generations at calibrated distance 0.50-0.57 (threshold 0.5), 1.5 brought two of 24
to 0.24 and 0.30; 7.5 pushed every generation far from the data. The prompt ranking over the first
denoising step alone put the marker prompts at 1, 3 and 4; over three steps (the audit's default) at 1-3.

Expected: the three marker prompts are the highest-ranked and flagged by the prompt audit, a marker is
among the top three attributed words, generations from those prompts include pixel-space copies of the
duplicated images found by the nearest-image search, and the copy gate fails; the clean model flags no
more prompts than unseen ones and few copies.
"""

from __future__ import annotations

import pandas as pd
import pytest
from image_sets import phantom_table

from synth.audits.base import AuditInputs
from synth.audits.images.nearest_images import ImageMemorizationAudit
from synth.audits.images.prompt_memorization import PromptMemorizationAudit
from synth.data.images.reports import strip_deid_markers
from synth.data.images.synthetic_set import write_synthetic_images
from synth.generators.base import Condition
from synth.generators.cxr_diffusion import CXRDiffusionGenerator
from synth.schema import ColumnKind, ColumnSpec, Role, Schema

pytestmark = pytest.mark.slow

MARKED = ("Findings were discussed with Dr. ___ by telephone at ___.",
          "Compared to the radiograph of XXXX, there is little change.",
          "Comparison is made to the prior study from ___.")
COPIES = 20
SINGLES = 190
HOLDOUT = 60
PER_PROMPT = 16  # generations per marker prompt
MODEL = dict(resolution=32, block_out_channels=[16, 32], layers_per_block=1, train_steps=2400, batch_size=16,
             learning_rate=2e-3, warmup_steps=20, ema_decay=0.0, prompt_dropout=0.1, sampling_steps=20,
             guidance_scale=1.5, progress=False, num_threads=1, view_conditioning=False)


def _schema() -> Schema:
    return Schema((ColumnSpec("image", ColumnKind.IMAGE),
                   ColumnSpec("prompt", ColumnKind.TEXT, roles=frozenset({Role.PROMPT})),
                   ColumnSpec("cardiomegaly", ColumnKind.CATEGORICAL),
                   ColumnSpec("pleural_effusion", ColumnKind.CATEGORICAL)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    extra = 3 * COPIES
    table = phantom_table(tmp_path_factory.mktemp("phantom") / "set", SINGLES + extra + HOLDOUT, seed=5, size=32)
    table = table[["image", "prompt", "cardiomegaly", "pleural_effusion"]].copy()
    table["prompt"] = [strip_deid_markers(p) for p in table["prompt"]]
    singles = table.iloc[:SINGLES].reset_index(drop=True)
    clean = table.iloc[:SINGLES + extra].reset_index(drop=True)  # as many rows, all distinct
    holdout = table.iloc[SINGLES + extra:].reset_index(drop=True)
    dup_rows, marked = [0, 1, 2], list(MARKED)
    copies = pd.concat([singles.iloc[[r]].assign(prompt=p) for r, p in zip(dup_rows, marked) for _ in range(COPIES)])
    duplicated = pd.concat([singles, copies], ignore_index=True)
    return {"singles": singles, "clean": clean, "duplicated": duplicated, "holdout": holdout, "marked": marked,
            "dup_rows": dup_rows}


def _audit_inputs(tmp_path, generator, train, holdout, prompts) -> AuditInputs:
    schema = _schema()
    synthetic = generator.sample(PER_PROMPT * len(prompts), conditions=[Condition(PER_PROMPT, {"prompt": p}) for p in prompts],
                                 seed=3)
    synthetic = write_synthetic_images(synthetic, schema, tmp_path / "images")
    synthetic["image"] = [str(tmp_path / p) for p in synthetic["image"]]
    return AuditInputs(train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=0, generator=generator,
                       include_real_records=False, n_jobs=1)


def _fit(train: pd.DataFrame) -> CXRDiffusionGenerator:
    return CXRDiffusionGenerator(seed=0, **MODEL).fit(train, _schema())


def test_duplicated_marker_prompts_are_memorized_and_found(data, tmp_path):
    generator = _fit(data["duplicated"])
    inputs = _audit_inputs(tmp_path, generator, data["duplicated"], data["holdout"], data["marked"])
    prompts = PromptMemorizationAudit(top_prompts=5, n_noise=4, min_word_people=1).run(inputs)
    copies = ImageMemorizationAudit(epochs=3).run(inputs)
    ranking = prompts.tables[0].rows  # (rank, images with this prompt, norm, flagged, top words), highest first
    words = [row[0] for row in prompts.tables[1].rows[:3]]
    found = copies.metric("privacy.image_copy_rate")
    n_train, dup = len(data["singles"]), data["dup_rows"]
    # the nearest training row of each closest generation, as the image it shows (a copy row is its source's image)
    nearest = {r if r < n_train else dup[(r - n_train) // COPIES] for _, r, _, _ in copies.tables[0].rows}
    seen = (f"ranking {ranking[:6]}\nwords {prompts.tables[1].rows[:5]}\n{prompts.summary}\n{copies.summary}\n"
            f"closest {copies.tables[0].rows[:5]}")
    print(seen)
    marked = [row for row in ranking if row[1] == COPIES]  # no other prompt has COPIES images
    # the three marker prompts are flagged and lead the ranking of 193 distinct prompts (the top 5 hold all three:
    # 1 in 118,000 by chance); which clean prompt interleaves with them varies with the model's noise
    assert len(marked) == 3 and all(row[3] == "yes" for row in marked) and max(row[0] for row in marked) <= 5, seen
    assert {"___", "xxxx"} & set(words), seen  # a de-identification marker among the top three attributed words
    # some generations from the marker prompts are pixel-space copies, more than the holdout's chance rate allows:
    # the copy gate fails (its threshold is Carlini's copy criterion, not tuned here)
    assert found.value > 0 and copies.metric("privacy.image_copy_excess").ci.low > 0, seen
    assert nearest & set(data["dup_rows"]), seen  # the copies point at the duplicated images


def test_the_same_audit_of_a_model_without_duplicates_flags_close_to_none(data, tmp_path):
    generator = _fit(data["clean"])
    inputs = _audit_inputs(tmp_path, generator, data["clean"], data["holdout"], data["marked"])
    prompts = PromptMemorizationAudit(top_prompts=5, n_noise=4).run(inputs)
    copies = ImageMemorizationAudit(epochs=3).run(inputs)
    rate = prompts.metric("privacy.prompt_memorization_rate")
    seen = f"{prompts.summary}\n{copies.summary}"
    print(seen)
    # The flagging threshold is the 99 % quantile of ~15 unseen prompts, i.e. their largest value: a prompt the
    # model did not memorize exceeds it with probability 1 / 16 on average (more when the largest of the 15 happens
    # to be low), so a clean model flags a few of its 250 prompts by chance; the baseline half of the unseen prompts
    # measures that rate, and the excess over it is what must stay null.
    assert rate.details["flagged_prompts"] / rate.details["training_prompts"] < 0.2, seen
    assert prompts.metric("privacy.prompt_memorization_excess").ci.low <= 0, seen
    assert copies.metric("privacy.image_copy_rate").value <= 0.25, seen
    assert copies.metric("privacy.image_copy_excess").ci.low <= 0, seen
