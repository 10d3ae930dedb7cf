"""Baselines (identity, true-tip erosion, BTR, dBTR, Wiener) and the benchmark tables on a tiny split."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from napari_se3afm.errors import FileExistsSe3afmError, ParameterError
from napari_se3afm.lab.baselines import WIENER_MIN_REGULARISATION, run_method, wiener_surface
from napari_se3afm.lab.benchmark import benchmark, tables_markdown, write_results
from napari_se3afm.lab.simtip import SimTipConfig
from napari_se3afm.lab.simtip.storage import read_split, write_split


def test_wiener_with_a_needle_tip_is_only_the_regularised_identity():
    img = np.random.default_rng(0).normal(size=(40, 40)) + 5.0
    needle = np.full((5, 5), -100.0)
    needle[2, 2] = 0.0
    # kernel ∝ P − min P is a delta: F⁻¹[Î / (1 + λ)], then moved to the mean of the erosion (= image)
    lam = WIENER_MIN_REGULARISATION
    expected = img / (1 + lam) - img.mean() / (1 + lam) + img.mean()
    np.testing.assert_allclose(wiener_surface(img, needle, noise_nm=0.0), expected, atol=1e-9)


def test_wiener_uses_the_kernel_unmirrored():
    # a lopsided tip: shallow to the right, steep to the left, so its blur kernel leans right
    v = np.arange(-4, 5, dtype=float)
    yy, xx = np.meshgrid(v, v, indexing="ij")
    tip = -np.hypot(yy, xx) * np.where(xx > 0, 0.2, 2.0)
    kernel = tip - tip.min()
    kernel /= kernel.sum()
    surface = np.zeros((64, 64))
    surface[32, 32] = 10.0
    # a linear image made with the documented convention: I(x) = sum_v h(v) S(x - v)
    image = np.zeros_like(surface)
    for a in range(9):
        for b in range(9):
            image += kernel[a, b] * np.roll(surface, (a - 4, b - 4), axis=(0, 1))

    def centre_col(z: np.ndarray) -> float:
        w = (z - np.median(z))[24:41, 24:41]
        return 24 + float((w.sum(axis=0) * np.arange(17)).sum() / w.sum())

    assert centre_col(image) > 32.5  # the blur moved the spike's mass right
    # the right kernel undoes it with a zero-phase filter: the spike comes back to column 32
    assert centre_col(wiener_surface(image, tip, 0.0)) == pytest.approx(32.0, abs=0.05)
    assert centre_col(wiener_surface(image, tip[::-1, ::-1], 0.0)) > 32.5


def test_methods_and_oracle():
    cfg = SimTipConfig(image_px=64, tip_px=15)
    from napari_se3afm.lab.simtip import simulate

    b = simulate(1, seed=3, config=cfg, dtype=__import__("torch").float64)
    img, tip, truth = b.image[0].numpy(), b.tip[0].numpy(), b.surface[0].numpy()
    assert np.array_equal(run_method("identity", img, 15).surface, img)
    oracle = run_method("true-tip-erosion", b.clean[0].numpy(), 15, tip)
    # erosion of the noise-free image by the true tip is an upper bound of the true surface
    assert np.all(oracle.surface[14:-14, 14:-14] >= truth[14:-14, 14:-14] - 1e-9)
    with pytest.raises(ParameterError, match="true tip"):
        run_method("true-tip-erosion", img, 15)
    # the needle: the image as the surface, and a tip whose clipped error is the true tip's own depth
    needle = run_method("needle", img, 15)
    assert np.array_equal(needle.surface, img) and needle.tip[7, 7] == 0.0
    from napari_se3afm.lab.metrics import probe_depth, tip_errors

    depth = probe_depth(truth, 15)
    # the needle is clipped to −depth everywhere but at the apex, where both tips are 0
    off = np.maximum(tip, -depth) + depth
    off[7, 7] = 0.0
    expected = np.sqrt(np.mean(off**2))
    assert tip_errors(needle.tip, tip, depth)["tip_rmse"] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ParameterError, match="choose from"):
        run_method("magic", img, 15)


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory):
    path = tmp_path_factory.mktemp("split") / "tiny.npz"
    write_split(path, 4, seed=99, config=SimTipConfig(image_px=64, tip_px=15))
    return path


def test_split_round_trip_and_refusals(tiny_split, tmp_path):
    from napari_se3afm.errors import AfmFileError
    from napari_se3afm.lab.simtip import simulate

    s = read_split(tiny_split)
    assert len(s) == 4 and s.image.shape == (4, 64, 64) and s.tip.shape == (4, 15, 15)
    again = simulate(range(4), seed=99, config=s.config)
    np.testing.assert_array_equal(s.image, again.image.numpy())
    assert s.tip_type == again.tip_type and s.config.tip_px == 15
    from napari_se3afm.lab.simtip.storage import iter_generate_split
    from napari_se3afm.progress import run_to_completion

    mem = run_to_completion(iter_generate_split(4, seed=99, config=s.config))  # what `se3afm bench` uses
    np.testing.assert_array_equal(mem.surface, s.surface)
    assert mem.params == s.params and mem.surface_type == s.surface_type
    with pytest.raises(FileExistsSe3afmError):
        write_split(tiny_split, 2, seed=1)
    bad = tmp_path / "bad.npz"
    np.savez(bad, image=np.zeros((2, 2)))
    with pytest.raises(AfmFileError, match="not a SimTip split"):
        read_split(bad)
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(AfmFileError, match=r"bad\.npz"):
        read_split(bad)


def test_benchmark_records_and_tables(tiny_split, tmp_path):
    split = read_split(tiny_split)
    result = benchmark(split, ["identity", "true-tip-erosion", "btr", "wiener"])
    assert len(result.records) == 16
    oracle = [r for r in result.records if r["method"] == "true-tip-erosion"]
    assert all(r["tip_rmse"] == 0.0 and r["tip_mae"] == 0.0 for r in oracle)
    ident = [r for r in result.records if r["method"] == "identity"]
    assert all("tip_rmse" not in r and r["surface_above_bound"] == 0.0 for r in ident)
    # identity's surface error is, by definition, the image-vs-surface RMSE away from the border
    r0 = ident[0]
    d = (split.image[0].astype(float) - split.surface[0])[14:-14, 14:-14]
    assert r0["surface_rmse"] == pytest.approx(np.sqrt(np.mean(d**2)))
    md = tables_markdown(result)
    for heading in ("Table 2", "Table 3", "Table 4", "Table 6", "Table 8"):
        assert heading in md
    assert "| btr | +0 % | +0 % |" in md
    assert "torch thread(s); peak memory" in md  # no GPU here: the compute line names none
    on_gpu = dataclasses.replace(result, environment={**result.environment, "gpu": "NVIDIA H200"})
    assert "thread(s) (the model on NVIDIA H200; its GPU memory is not counted)" in tables_markdown(on_gpu)
    paths = write_results(result, tmp_path / "out")
    assert json.loads(paths[0].read_text())["n_scans"] == 4
    with pytest.raises(FileExistsSe3afmError):
        write_results(result, tmp_path / "out")
    with pytest.raises(ParameterError, match="unknown method"):
        benchmark(split, ["nope"])
