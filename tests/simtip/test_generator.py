"""SimTip generator physics: exact dilation before artefacts, tip convention, ranges, artefacts, seeds."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from napari_se3afm.errors import ParameterError
from napari_se3afm.image.morphology import dilate
from napari_se3afm.lab.simtip import (
    SURFACE_TYPES,
    TIP_TYPES,
    SimTipConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    simulate,
)
from napari_se3afm.lab.simtip.config import ImagingConfig, SurfaceConfig, TipConfig
from napari_se3afm.lab.simtip.generator import _streams
from napari_se3afm.lab.simtip.tips import border_depth

SMALL = SimTipConfig(image_px=64, tip_px=15)
NO_ARTEFACTS = ImagingConfig(noise=False, line_offsets=False, drift=False, creep=False, bow=False)


def one_hot(names: tuple[str, ...], name: str) -> tuple[float, ...]:
    return tuple(1.0 if n == name else 0.0 for n in names)


def only(tip: str, surface: str, base: SimTipConfig = SMALL, imaging: ImagingConfig | None = None) -> SimTipConfig:
    return dataclasses.replace(
        base,
        tips=dataclasses.replace(base.tips, weights=one_hot(TIP_TYPES, tip)),
        surfaces=dataclasses.replace(base.surfaces, weights=one_hot(SURFACE_TYPES, surface)),
        imaging=imaging or base.imaging,
    )


@pytest.mark.parametrize("surface", SURFACE_TYPES)
@pytest.mark.parametrize("tip", TIP_TYPES)
def test_clean_image_is_the_exact_dilation_of_surface_by_tip(tip, surface, request):
    if surface == "real":
        request.getfixturevalue("real_data_dir")  # skips, saying why, where the real scans are absent
    batch = simulate(3, seed=7, config=only(tip, surface), dtype=torch.float64)
    assert batch.tip_type == [tip] * 3 and batch.surface_type == [surface] * 3
    c = SMALL.tip_px // 2
    for i in range(3):
        expected = dilate(batch.surface[i].numpy(), batch.tip[i].numpy())
        # away from the border the library's dilation leans on no replicated pixel: it must agree exactly
        np.testing.assert_array_equal(batch.clean[i].numpy()[c:-c, c:-c], expected[c:-c, c:-c])
        # and the image, before any artefact, is that dilation everywhere (the canvas is larger)
        assert batch.clean[i].min() >= batch.surface[i].min() - 1e-12


@pytest.mark.parametrize("tip", TIP_TYPES)
def test_tips_obey_the_convention_and_fit_their_window(tip):
    cfg = only(tip, "roughness")
    batch = simulate(8, seed=3, config=cfg, dtype=torch.float64)
    k, c = cfg.tip_px, cfg.tip_px // 2
    assert batch.tip.shape == (8, k, k)
    for p, pixel in zip(batch.tip.numpy(), batch.pixel_nm.numpy(), strict=True):
        assert p[c, c] == 0.0
        assert p.max() <= 0.0
        if tip != "damaged" and cfg.pixel_nm[0] < pixel < cfg.pixel_nm[1]:
            # pixel size chosen so the border is just the fit depth below the apex (bisection tolerance)
            assert border_depth(p) >= cfg.tip_fit_depth_nm
            assert border_depth(p) < 1.05 * cfg.tip_fit_depth_nm
        assert cfg.pixel_nm[0] <= pixel <= cfg.pixel_nm[1]


def test_tip_parameters_stay_in_their_ranges():
    cfg = SMALL
    batch = simulate(64, seed=11, config=cfg)
    t = cfg.tips
    seen = set()
    for kind, p in zip(batch.tip_type, batch.params, strict=True):
        tp = p["tip"]
        seen.add(kind)
        if kind == "pyramidal":
            assert t.pyramid_half_angle_deg[0] <= tp["half_angle_deg"] <= t.pyramid_half_angle_deg[1]
            assert t.pyramid_apex_radius_nm[0] <= tp["apex_radius_nm"] <= t.pyramid_apex_radius_nm[1]
            assert tp["sides"] in (3, 4)
        elif kind == "conical":
            assert t.cone_half_angle_deg[0] <= tp["half_angle_deg"] <= t.cone_half_angle_deg[1]
            assert t.cone_apex_radius_nm[0] <= tp["apex_radius_nm"] <= t.cone_apex_radius_nm[1]
        elif kind == "spherical":
            assert t.sphere_radius_nm[0] <= tp["radius_nm"] <= t.sphere_radius_nm[1]
        else:
            assert t.wear_depth_nm[0] <= tp["wear_nm"] <= t.wear_depth_nm[1]
            assert t.asperities[0] <= tp["asperities"] <= t.asperities[1]
        if kind in ("pyramidal", "conical"):
            assert t.anisotropy[0] <= tp["anisotropy"] <= t.anisotropy[1]
    assert seen == set(TIP_TYPES)


def test_roughness_has_the_requested_rms_and_correlation_length():
    rms, xi = 2.0, 6.0
    surfaces = dataclasses.replace(SurfaceConfig(), roughness_rms_nm=(rms, rms), roughness_correlation_nm=(xi, xi))
    cfg = dataclasses.replace(
        only("conical", "roughness", imaging=NO_ARTEFACTS),
        image_px=128,
        tip_px=31,
        surfaces=dataclasses.replace(surfaces, weights=one_hot(SURFACE_TYPES, "roughness")),
    )
    batch = simulate(6, seed=5, config=cfg, dtype=torch.float64)
    corr = []
    for s, pixel in zip(batch.surface.numpy(), batch.pixel_nm.numpy(), strict=True):
        assert 0.6 * rms < s.std() < 1.4 * rms  # the canvas has exactly rms; the view samples part of it
        lag = round(xi / pixel)
        z = s - s.mean()
        corr.append(np.mean(z[:, :-lag] * z[:, lag:]) / z.var() / math.exp(-((lag * pixel / xi) ** 2)))
    # autocorrelation exp(-r²/ξ²): measured / expected at lag ξ, averaged over scans
    assert 0.7 < np.mean(corr) < 1.3


def test_particles_steps_and_patterns_respect_their_heights():
    cfg = SimTipConfig(
        image_px=64,
        tip_px=15,
        imaging=NO_ARTEFACTS,
        surfaces=dataclasses.replace(SurfaceConfig(), substrate_rms_nm=(0.0, 0.0)),
    )
    for family in ("particles", "steps", "periodic"):
        c = dataclasses.replace(cfg, surfaces=dataclasses.replace(cfg.surfaces, weights=one_hot(SURFACE_TYPES, family)))
        batch = simulate(12, seed=2, config=c, dtype=torch.float64)
        for s, p in zip(batch.surface.numpy(), batch.params, strict=True):
            sp = p["surface"]
            levels = np.unique(np.round(s, 9))
            if family == "particles":
                assert s.max() <= sp["diameter_nm"] * (1 + cfg.surfaces.particle_size_spread) + 1e-9
                assert sp["diameter_nm"] >= cfg.surfaces.particle_diameter_nm[0]
            elif family == "steps":
                # terraces: every height is a whole number of steps
                steps = levels / sp["step_height_nm"]
                np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
                assert cfg.surfaces.step_height_nm[0] <= sp["step_height_nm"] <= cfg.surfaces.step_height_nm[1]
            elif sp["pattern"] in ("grating", "pillars", "pits"):
                assert len(levels) <= 2
                assert s.max() - s.min() <= sp["height_nm"] + 1e-9
            else:
                assert s.max() - s.min() <= sp["height_nm"] + 1e-9


def test_each_artefact_alone_does_what_it_says():
    base = dataclasses.replace(SMALL, imaging=NO_ARTEFACTS)
    clean = simulate(4, seed=9, config=base, dtype=torch.float64)
    np.testing.assert_array_equal(clean.image.numpy(), clean.clean.numpy())
    noisy = simulate(
        4,
        seed=9,
        config=dataclasses.replace(base, imaging=dataclasses.replace(NO_ARTEFACTS, noise=True)),
        dtype=torch.float64,
    )
    np.testing.assert_array_equal(noisy.surface.numpy(), clean.surface.numpy())  # nothing else changed
    for i in range(4):
        sigma = noisy.params[i]["imaging"]["noise_nm"]
        measured = float((noisy.image[i] - noisy.clean[i]).std())
        assert abs(measured - sigma) < 0.05 * sigma
    lines = simulate(
        4,
        seed=9,
        config=dataclasses.replace(base, imaging=dataclasses.replace(NO_ARTEFACTS, line_offsets=True)),
        dtype=torch.float64,
    )
    diff = (lines.image - lines.clean).numpy()
    np.testing.assert_allclose(diff, np.repeat(diff[:, :, :1], diff.shape[2], axis=2), atol=1e-12)
    bow = simulate(
        4,
        seed=9,
        config=dataclasses.replace(base, imaging=dataclasses.replace(NO_ARTEFACTS, bow=True)),
        dtype=torch.float64,
    )
    for i in range(4):
        d = (bow.image[i] - bow.clean[i]).numpy()
        # a paraboloid: constant second differences along both axes
        np.testing.assert_allclose(np.diff(d, 2, axis=1), np.diff(d, 2, axis=1)[0, 0], atol=1e-9)
        assert 0 <= d.min() and d.max() <= 2.6 * bow.params[i]["imaging"]["bow_nm"] + 1e-12


def test_coloured_noise_has_its_spectral_slope_and_level():
    base = dataclasses.replace(SMALL, imaging=NO_ARTEFACTS)
    white = dataclasses.replace(NO_ARTEFACTS, noise=True)
    for beta in (1.0, 2.0):
        cfg = dataclasses.replace(base, imaging=dataclasses.replace(white, noise_exponent=(beta, beta)))
        b = simulate(3, seed=5, config=cfg, dtype=torch.float64)
        for i in range(3):
            noise = (b.image[i] - b.clean[i]).numpy()
            assert b.params[i]["imaging"]["noise_exponent"] == beta
            assert noise.std() == pytest.approx(b.params[i]["imaging"]["noise_nm"], rel=1e-9)
            power = np.abs(np.fft.fft2(noise)) ** 2
            f = np.hypot(*np.meshgrid(np.fft.fftfreq(noise.shape[0]), np.fft.fftfreq(noise.shape[1]), indexing="ij"))
            band = (f > 0.03) & (f < 0.45)
            slope = np.polyfit(np.log(f[band]), np.log(power[band]), 1)[0]
            assert slope == pytest.approx(-beta, abs=0.2)
    # white noise draws no exponent: its random stream does not depend on the option
    plain = simulate(3, seed=5, config=dataclasses.replace(base, imaging=white), dtype=torch.float64)
    assert "noise_exponent" not in plain.params[0]["imaging"]


def test_scars_shift_whole_runs_of_lines_and_draw_nothing_when_off():
    scarred = dataclasses.replace(NO_ARTEFACTS, scars=(2, 2), scar_nm=(10.0, 10.0))
    b = simulate(8, seed=3, config=dataclasses.replace(SMALL, imaging=scarred), dtype=torch.float64)
    shift = (b.image - b.clean).numpy()
    np.testing.assert_allclose(shift, np.repeat(shift[:, :, :1], shift.shape[2], axis=2), atol=1e-12)  # whole lines
    openings = 0
    for i in range(8):
        assert b.params[i]["imaging"]["scars"] == 2
        rows = shift[i, :, 0]
        # two runs of 1-3 lines, each ±10 nm (where they overlap, 0 or ±20)
        assert set(np.round(np.unique(rows), 9)) <= {-20.0, -10.0, 0.0, 10.0, 20.0}
        assert 1 <= np.count_nonzero(rows) <= 6
        openings += rows[0] != 0
    assert 0 < openings < 8  # the first run opens the scan about half the time
    # with none, nothing is drawn: the noise is the first draw of each scan's imaging stream
    off = dataclasses.replace(NO_ARTEFACTS, noise=True)
    plain = simulate(3, seed=3, config=dataclasses.replace(SMALL, imaging=off), dtype=torch.float64)
    for i in range(3):
        stream = _streams(3, i)[2]  # the tip's, the surface's, the imaging's
        sigma = stream.uniform(*off.noise_nm)
        noise = sigma * stream.standard_normal((64, 64))
        np.testing.assert_allclose(plain.image[i] - plain.clean[i], noise, atol=1e-12)
        assert "scars" not in plain.params[i]["imaging"]
    with pytest.raises(ParameterError, match="whole numbers"):
        config_from_dict({"imaging": {"scars": [0, 1.5]}})
    with pytest.raises(ParameterError, match="probability"):
        config_from_dict({"imaging": {"scar_at_start": 2}})


def test_drift_moves_the_image_not_the_surface():
    zero = dataclasses.replace(NO_ARTEFACTS, drift=True, drift_px=(0.0, 0.0))
    base = dataclasses.replace(SMALL, imaging=zero)
    batch = simulate(3, seed=4, config=base, dtype=torch.float64)
    np.testing.assert_allclose(batch.image.numpy(), batch.clean.numpy(), atol=1e-12)
    still = dataclasses.replace(NO_ARTEFACTS, drift_px=(2.0, 2.0))
    batch = simulate(3, seed=4, config=dataclasses.replace(SMALL, imaging=still), dtype=torch.float64)
    moved = dataclasses.replace(still, drift=True)
    drifted = simulate(3, seed=4, config=dataclasses.replace(SMALL, imaging=moved), dtype=torch.float64)
    np.testing.assert_array_equal(drifted.surface.numpy(), batch.surface.numpy())
    # the first line is where the scan starts (no drift yet); the last one has moved
    np.testing.assert_allclose(drifted.image[:, 0, :4].numpy(), drifted.clean[:, 0, :4].numpy(), atol=0.05 * 2)
    assert float((drifted.image[:, -1] - drifted.clean[:, -1]).abs().max()) > 0


def test_samples_depend_only_on_seed_and_index():
    a = simulate([3, 4], seed=1, config=SMALL)
    b = simulate(range(6), seed=1, config=SMALL)
    np.testing.assert_array_equal(a.image.numpy(), b.image[3:5].numpy())
    np.testing.assert_array_equal(a.tip.numpy(), b.tip[3:5].numpy())
    c = simulate([3], seed=2, config=SMALL)
    assert not np.array_equal(c.image[0].numpy(), a.image[0].numpy())


def test_config_round_trip_and_errors():
    cfg = config_from_dict({"image_px": 96, "tips": {"cone_apex_radius_nm": [3, 4]}, "imaging": {"noise": False}})
    assert cfg.image_px == 96 and cfg.tips.cone_apex_radius_nm == (3, 4) and cfg.imaging.noise is False
    assert config_from_dict(config_to_dict(cfg)) == cfg
    with pytest.raises(ParameterError, match=r"tips\.cone_radius"):
        config_from_dict({"tips": {"cone_radius": [1, 2]}})
    with pytest.raises(ParameterError, match="low <= high"):
        config_from_dict({"surfaces": {"roughness_rms_nm": [5, 1]}})
    with pytest.raises(ParameterError, match="odd"):
        SimTipConfig(tip_px=30)
    with pytest.raises(ParameterError, match="weights"):
        SimTipConfig(tips=TipConfig(weights=(1, 1)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_same_samples_as_cpu():
    cpu = simulate(8, seed=5, config=SMALL, dtype=torch.float64)
    gpu = simulate(8, seed=5, config=SMALL, device="cuda", dtype=torch.float64)
    np.testing.assert_allclose(gpu.image.cpu().numpy(), cpu.image.numpy(), atol=1e-9)


def test_fit_depth_range_widens_pixel_sizes_and_keeps_fixed_streams():
    fixed = simulate(4, seed=6, config=SMALL)
    np.testing.assert_array_equal(
        simulate(4, seed=6, config=SimTipConfig(image_px=64, tip_px=15, tip_fit_depth_nm=10.0)).image.numpy(),
        fixed.image.numpy(),
    )
    wide = dataclasses.replace(SMALL, tip_fit_depth_nm=(10.0, 200.0), pixel_nm=(0.25, 60.0))
    batch = simulate(24, seed=6, config=wide, dtype=torch.float64)
    depths = [p["tip"]["fit_depth_nm"] for p in batch.params]
    assert all(10.0 <= d <= 200.0 for d in depths) and max(depths) > 50
    for p, pixel, d, kind in zip(batch.tip.numpy(), batch.pixel_nm.numpy(), depths, batch.tip_type, strict=True):
        assert p[7, 7] == 0 and p.max() <= 0
        if kind != "damaged" and wide.pixel_nm[0] < pixel < wide.pixel_nm[1]:
            assert d <= border_depth(p) < 1.05 * d  # each tip fits its own drawn depth
    assert batch.pixel_nm.max() > 3 * fixed.pixel_nm.max()  # coarser pixels, as on real scans


def test_shipped_training_configs_are_valid():
    from pathlib import Path

    from napari_se3afm.lab.training import load_train_config
    from napari_se3afm.nn.model import ModelConfig

    root = Path(__file__).resolve().parents[2] / "configs"
    configs = sorted(p for p in root.rglob("*.json") if p.parent.name != "simtip")
    assert len(configs) >= 7
    for path in configs:
        cfg = load_train_config(path)
        sim = config_from_dict(cfg.simtip)
        assert ModelConfig(**cfg.model).tip_px == sim.tip_px, path.name
    for path in sorted((root / "simtip").glob("*.json")):  # SimTip-only configs (se3afm simulate --config)
        load_config(path)  # raises ParameterError on an unknown key or a bad range


def test_tip_indices_image_two_surfaces_with_one_tip():
    from napari_se3afm.lab.simtip import simulate

    own = simulate([3, 4], seed=7)
    pair = simulate([3, 4], seed=7, tip_indices=[3, 3])
    assert torch.equal(pair.tip[0], own.tip[0]) and torch.equal(pair.tip[1], own.tip[0])
    assert float(pair.pixel_nm[1]) == float(own.pixel_nm[0])
    assert not torch.equal(pair.surface[0], pair.surface[1])
    assert torch.equal(pair.image[0], own.image[0])  # the first scan is unchanged


def test_real_surfaces_are_real_scans_sharper_than_the_tip_that_images_them(real_data_dir):
    """The "real" family: a real scan, scaled so that its recording tip (bounded by its classical
    blind tip) is at most half the new tip's apex radius; the image is its exact dilation."""
    from napari_se3afm.lab.simtip import load_config
    from napari_se3afm.lab.simtip.real_surfaces import real_scan_bank
    from napari_se3afm.tip import describe_tip

    cfg = dataclasses.replace(load_config("configs/simtip/real.json"), imaging=NO_ARTEFACTS)
    b = simulate(6, seed=9, config=cfg, dtype=torch.float64)
    names = {scan.name for scan in real_scan_bank(str(real_data_dir))}
    assert set(b.surface_type) == {"real"}
    for i in range(len(b)):
        p = b.params[i]["surface"]
        assert p["real_scan"] in names and p["real_blunt_enough"]
        radius = describe_tip(b.tip[i].numpy(), float(b.pixel_nm[i])).apex_radius_nm
        assert p["real_recording_tip_nm"] <= 0.5 * radius + 1e-9
        assert float(b.surface[i].min()) == 0.0 and float(b.surface[i].max()) > 0
        inner = dilate(b.surface[i].numpy(), b.tip[i].numpy())[15:-15, 15:-15]
        np.testing.assert_allclose(b.image[i].numpy()[15:-15, 15:-15], inner, atol=1e-9)
    default = simulate(4, seed=9, config=SimTipConfig())
    assert "real" not in default.surface_type  # off unless weighted
