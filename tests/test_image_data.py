"""Image data in the core: image files, report prompts, the MIMIC-CXR-JPG loader, schema and split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cxr_fixture import IMAGES, write_mimic_fixture
from PIL import Image

from synth.data.images import layout
from synth.data.images.io import load_images, read_image, read_images, write_png
from synth.data.images.mimic_cxr import COLUMN_KINDS, MIMIC_CXR_INFO, load_mimic_cxr
from synth.data.images.reports import (
    has_deid_marker,
    prompt_from_labels,
    prompt_from_report,
    report_sections,
    strip_deid_markers,
)
from synth.data.infer import infer_schema
from synth.data.split import split_train_holdout
from synth.errors import ConfigError, DataError
from synth.schema import ColumnKind, DataKind, Role


@pytest.fixture(scope="module")
def mimic(tmp_path_factory):
    return write_mimic_fixture(tmp_path_factory.mktemp("mimic"))


# -- image files ---------------------------------------------------------------------------


def test_read_image_crops_to_a_square_and_keeps_the_centre(tmp_path):
    # a 40 x 20 image: left quarter black, middle white, right quarter black
    pixels = np.zeros((20, 40), dtype=np.uint8)
    pixels[:, 10:30] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    out = read_image(tmp_path / "wide.png", size=10)
    assert out.shape == (10, 10) and out.dtype == np.uint8
    assert out.min() > 200  # the centre crop is the white middle; the black sides are cut


def test_sixteen_bit_images_use_their_range_and_png_round_trip_is_exact(tmp_path):
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = read_image(tmp_path / "deep.png")
    assert out.min() == 0 and out.max() == 255  # stretched, not clipped at 255
    arr = np.random.default_rng(0).integers(0, 256, (12, 9), dtype=np.uint8)
    write_png(arr, tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), arr)
    assert np.allclose(load_images([tmp_path / "a.png"])[0, 0], arr / 255.0)


def test_unusable_image_files_are_named_and_counted(tmp_path):
    write_png(np.zeros((4, 4), np.uint8), tmp_path / "ok.png")
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"2 of 3 image files cannot be used.*row 1.*notes\.jpg.*not an image.*row 2.*missing\.png"):
        read_images(["ok.png", "notes.jpg", "missing.png"], root=tmp_path)


def test_images_of_different_sizes_need_a_size(tmp_path):
    write_png(np.zeros((4, 4), np.uint8), tmp_path / "a.png")
    write_png(np.zeros((5, 4), np.uint8), tmp_path / "b.png")
    with pytest.raises(DataError, match="different sizes.*data.images.size"):
        read_images(["a.png", "b.png"], root=tmp_path)
    assert read_images(["a.png", "b.png"], root=tmp_path, size=4).shape == (2, 1, 4, 4)


# -- report text -----------------------------------------------------------------------------


def test_prompt_puts_the_impression_before_the_findings():
    text = " FINDINGS:  Small effusion.\n\n IMPRESSION: \n  Effusion,\n  small.\n"
    assert report_sections(text)["IMPRESSION"] == "Effusion, small."
    assert prompt_from_report(text) == "Effusion, small. Small effusion."
    assert prompt_from_report(" INDICATION: cough\n") is None


def test_prompt_from_labels_names_positives_and_hedges_uncertain_ones():
    assert prompt_from_labels({"cardiomegaly": 1, "Pleural Effusion": -1.0, "pneumothorax": 0}) == (
        "Cardiomegaly. Possible pleural effusion.")
    assert prompt_from_labels({"no_finding": 1.0, "edema": float("nan")}) == "No acute cardiopulmonary process."


def test_deid_markers_are_found_and_stripped():
    text = "Compared to ___, stable. Dr. XXXX was paged at [**2150-1-1**]."
    assert has_deid_marker(text)
    clean = strip_deid_markers(text)
    assert not has_deid_marker(clean) and clean == "Compared to, stable. Dr. was paged at."
    assert not has_deid_marker("Box is 3 x 4 cm; a_b is fine")


# -- the MIMIC-CXR-JPG loader ----------------------------------------------------------------


def test_loader_reads_the_layout_filters_views_and_writes_prompts(mimic):
    table = load_mimic_cxr(mimic)
    frontal = [(s, t, d) for s, t, d, v, _ in IMAGES if v in ("PA", "AP")]
    assert len(table) == len(frontal) == 5
    assert set(table["view_position"]) == {"PA", "AP"}
    assert table["image"].iloc[0] == layout.image_path(*frontal[0])
    by_study = table.set_index("study_id")
    assert by_study.loc[50414267, "prompt"] == "Small left pleural effusion. There is a small left pleural effusion. Heart size is normal."
    assert by_study.loc[54205396, "prompt"] == "Consolidation. Pleural effusion."  # no report: from its labels
    assert by_study.loc[57375967, "prompt"] == "No acute cardiopulmonary process."
    assert by_study.loc[50414267, "pleural_effusion"] == 1 and by_study.loc[50414267, "cardiomegaly"] == 0
    assert np.isnan(by_study.loc[57375967, "cardiomegaly"])  # a study without labels: not mentioned
    lateral = load_mimic_cxr(mimic, views=["lateral"])
    assert len(lateral) == 3 and set(lateral["view_position"]) == {"LATERAL"}
    assert len(load_mimic_cxr(mimic, views=None)) == 8


def test_loader_splits_max_images_and_labeler(mimic):
    assert set(load_mimic_cxr(mimic, splits=["test"])["subject_id"]) == {10000898}
    two = load_mimic_cxr(mimic, max_images=3)  # whole patients only: 2 + 1 frontal images
    assert list(two["subject_id"]) == [10000032, 10000032, 10000764]
    assert load_mimic_cxr(mimic, labeler="negbio")["pleural_effusion"].equals(load_mimic_cxr(mimic)["pleural_effusion"])


def test_loader_caches_resized_copies_and_reuses_them(mimic, tmp_path):
    table = load_mimic_cxr(mimic, size=32, cache_dir=tmp_path / "cache")
    first = table["image"].iloc[0]
    assert first.startswith(str(tmp_path / "cache" / "32px")) and first.endswith(".png")
    assert read_image(first).shape == (32, 32)
    stamp = (tmp_path / first).stat().st_mtime_ns
    again = load_mimic_cxr(mimic, size=32, cache_dir=tmp_path / "cache")
    assert again["image"].tolist() == table["image"].tolist() and (tmp_path / first).stat().st_mtime_ns == stamp


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / layout.TABLES["chexpert"]).unlink(), r"lacks the table mimic-cxr-2\.0\.0-chexpert\.csv\.gz"),
    (lambda root: layout.write_table(pd.DataFrame({"dicom_id": ["x"]}), root / layout.TABLES["metadata"]),
     r"lacks the column\(s\) subject_id, study_id, ViewPosition"),
    (lambda root: next((root / "files").rglob("*.jpg")).unlink(), r"1 of 5 image files .* are missing"),
    (lambda root: next((root / "files").rglob("*.jpg")).write_text("oops"), None),
])
def test_a_damaged_folder_is_a_clear_error(tmp_path, damage, message):
    root = write_mimic_fixture(tmp_path / "m")
    damage(root)
    if message is None:  # a non-image file under an image name: found when the pixels are read
        table = load_mimic_cxr(root, views=None)
        with pytest.raises(DataError, match=r"1 of 8 image files cannot be used.*not an image file"):
            read_images(table["image"].tolist(), root=root)
        return
    with pytest.raises(DataError, match=message):
        load_mimic_cxr(root)


def test_loader_option_mistakes(mimic, tmp_path):
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        load_mimic_cxr(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"No image .* has a view in SWIMMERS.*PA: 3"):
        load_mimic_cxr(mimic, views=["SWIMMERS"])
    with pytest.raises(DataError, match="Unknown split"):
        load_mimic_cxr(mimic, splits=["training"])
    with pytest.raises(DataError, match="cache_dir needs data.images.size"):
        load_mimic_cxr(mimic, cache_dir=tmp_path)


# -- schema and split ------------------------------------------------------------------------


def test_image_schema_roles_and_split_by_patient(mimic):
    table = load_mimic_cxr(mimic, views=None)
    schema = infer_schema(table, {c: {"kind": k.value} for c, k in COLUMN_KINDS.items()},
                          **MIMIC_CXR_INFO.role_arguments())
    assert schema.data_kind == DataKind.IMAGE and schema.images == ["image"] and schema.prompt == "prompt"
    modelled = schema.modelled()
    assert {"image", "prompt", "view_position", "cardiomegaly"} <= set(modelled.names)
    assert not {"subject_id", "study_id", "dicom_id"} & set(modelled.names)
    assert Role.GROUP in schema.column("subject_id").roles
    for seed in range(5):
        train, holdout = split_train_holdout(table, schema, holdout_fraction=0.34, seed=seed)
        assert not set(train["subject_id"]) & set(holdout["subject_id"])
        assert len(train) + len(holdout) == len(table)


def test_image_kind_is_inferred_from_paths_and_prompt_must_be_text():
    frame = pd.DataFrame({"path": [f"img/{i}.PNG" for i in range(30)], "note": [f"finding number {i} is here ok" for i in range(30)],
                          "y": [i % 2 for i in range(30)]})
    schema = infer_schema(frame, prompt="note")
    assert schema.column("path").kind == ColumnKind.IMAGE and schema.data_kind == DataKind.IMAGE
    assert schema.column("note").kind == ColumnKind.TEXT and "note" in schema.modelled().names
    assert "note" not in infer_schema(frame).modelled().names  # text without the prompt role is never modelled
    with pytest.raises(ConfigError, match="is the prompt but is of kind categorical|is the prompt but is of kind"):
        infer_schema(frame, {"y": {"kind": "integer"}}, prompt="y")


def test_short_near_unique_prompts_stay_text_not_identifiers():
    # Short distinct reports ("Effusion 7.") are near-unique labels, which rule 7 makes an
    # identifier; with the prompt role they are the text that conditions the generator.
    frame = pd.DataFrame({"image": [f"files/p{i}/s{i}.jpg" for i in range(40)],
                          "report": [f"Effusion {i}." for i in range(40)]})
    schema = infer_schema(frame, prompt="report")
    assert schema.column("report").kind == ColumnKind.TEXT and Role.IDENTIFIER not in schema.column("report").roles
    assert schema.column("image").kind == ColumnKind.IMAGE
    assert set(schema.modelled().names) == {"image", "report"}
    plain = infer_schema(frame)  # the same column without the role is an identifier, never modelled
    assert plain.column("report").kind == ColumnKind.ID and "report" not in plain.modelled().names
    overridden = infer_schema(frame, {"report": {"kind": "categorical", "roles": ["prompt"]}})
    assert overridden.column("report").kind == ColumnKind.CATEGORICAL  # an explicit kind wins
