"""Known answer (slow): a diffusion model trained with a few images duplicated under marker prompts memorizes them,
and the image audits say so; the same model trained without the duplicates does not.

Sizes (tiny CPU model): a phantom set of 100 radiographs at 32 px, split 70 / 30 in row order
into training and holdout; three training images are added 20 times each (60 extra rows), each
under a de-identification sentence of the phantom reports with its markers kept (e.g.
"Comparison is made to the prior study from ___."). Every other prompt has its markers
stripped, while the same sentences, markers removed, still occur in them: the marker is what
sets a duplicated prompt apart. UNet: 32 px, channels [16, 32], one layer per block, 800 steps
of 16 images at learning rate 1e-3, no EMA.

Expected: the three marker prompts are the highest-ranked and flagged by the prompt audit,
a marker is among the top three attributed words, generated images from those prompts are
pixel-space copies found by the nearest-image search (and the copy gate fails); the clean
model (no duplicates, same prompts sampled) flags at most one prompt and few copies.

Known to fail (stop 17, issue 12 open): at these sizes the prompt part holds (marker prompts
ranked 1-3 and flagged, '___' and 'xxxx' the top words) but no generation reaches the copy
threshold (closest calibrated distance 0.64 against 0.5). Longer training trades one for the
other: 1,600 steps flagged 2 of 24 marker generations; 2,400 steps at 2e-3 flagged 4 (excess
+16.7 % [+1.5 %, +35.9 %], all pointing at duplicated images) but then the model memorizes
every single-image prompt as well and the marker prompts fall out of the top of the ranking.
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
MODEL = dict(resolution=32, block_out_channels=[16, 32], layers_per_block=1, train_steps=800, batch_size=16,
             learning_rate=1e-3, warmup_steps=20, ema_decay=0.0, prompt_dropout=0.1, sampling_steps=20,
             guidance_scale=3.0, progress=False, num_threads=1, view_conditioning=False)


def _schema() -> Schema:
    return Schema((ColumnSpec("image", ColumnKind.IMAGE),
                   ColumnSpec("prompt", ColumnKind.TEXT, roles=frozenset({Role.PROMPT})),
                   ColumnSpec("cardiomegaly", ColumnKind.CATEGORICAL),
                   ColumnSpec("pleural_effusion", ColumnKind.CATEGORICAL)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    table = phantom_table(tmp_path_factory.mktemp("phantom") / "set", 100, seed=5, size=32)
    table = table[["image", "prompt", "cardiomegaly", "pleural_effusion"]].copy()
    table["prompt"] = [strip_deid_markers(p) for p in table["prompt"]]
    train, holdout = table.iloc[:70].reset_index(drop=True), table.iloc[70:].reset_index(drop=True)
    dup_rows, marked = [0, 1, 2], list(MARKED)
    copies = pd.concat([train.iloc[[r]].assign(prompt=p) for r, p in zip(dup_rows, marked) for _ in range(COPIES)])
    duplicated = pd.concat([train, copies], ignore_index=True)
    return {"train": train, "duplicated": duplicated, "holdout": holdout, "marked": marked, "dup_rows": dup_rows}


def _audit_inputs(tmp_path, generator, train, holdout, prompts) -> AuditInputs:
    schema = _schema()
    rows = sum(8 for _ in prompts)
    synthetic = generator.sample(rows, conditions=[Condition(8, {"prompt": p}) for p in prompts], seed=3)
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
    n_train, dup = len(data["train"]), data["dup_rows"]
    # the nearest training row of each closest generation, as the image it shows (a copy row is its source's image)
    nearest = {r if r < n_train else dup[(r - n_train) // COPIES] for _, r, _, _ in copies.tables[0].rows}
    seen = (f"ranking {ranking[:6]}\nwords {prompts.tables[1].rows[:5]}\n{prompts.summary}\n{copies.summary}\n"
            f"closest {copies.tables[0].rows[:5]}")
    print(seen)
    marked = [row for row in ranking if row[1] == COPIES]  # no other prompt has COPIES images
    # the three marker prompts are flagged and lead the ranking of 73 distinct prompts (the top 5 hold all three:
    # 1 in 6,000 by chance); which clean prompt interleaves with them varies with the model's noise
    assert len(marked) == 3 and all(row[3] == "yes" for row in marked) and max(row[0] for row in marked) <= 5, seen
    assert {"___", "xxxx"} & set(words), seen  # a de-identification marker among the top three attributed words
    assert found.value >= 0.5, seen  # generations from the marker prompts are pixel-space copies
    assert copies.metric("privacy.image_copy_excess").ci.low > 0, seen  # and the copy gate fails
    assert nearest & set(data["dup_rows"]), seen  # the copies point at the duplicated images


def test_the_same_audit_of_a_model_without_duplicates_flags_close_to_none(data, tmp_path):
    generator = _fit(data["train"])
    inputs = _audit_inputs(tmp_path, generator, data["train"], data["holdout"], data["marked"])
    prompts = PromptMemorizationAudit(top_prompts=5, n_noise=4).run(inputs)
    copies = ImageMemorizationAudit(epochs=3).run(inputs)
    rate = prompts.metric("privacy.prompt_memorization_rate")
    seen = f"{prompts.summary}\n{copies.summary}"
    print(seen)
    # The flagging threshold is the 99 % quantile of ~15 unseen prompts, i.e. their largest value: a prompt the
    # model did not memorize exceeds it with probability 1 / 16 on average (more when the largest of the 15 happens
    # to be low), so a clean model flags a few of its 70 prompts by chance; the baseline half of the unseen prompts
    # measures that rate, and the excess over it is what must stay null.
    assert rate.details["flagged_prompts"] / rate.details["training_prompts"] < 0.2, seen
    assert prompts.metric("privacy.prompt_memorization_excess").ci.low <= 0, seen
    assert copies.metric("privacy.image_copy_rate").value <= 0.25, seen
    assert copies.metric("privacy.image_copy_excess").ci.low <= 0, seen
