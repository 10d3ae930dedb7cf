"""Model tips against their analytic formulas; descriptors, volume and mesh against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_se3afm.errors import ParameterError
from napari_se3afm.tip import (
    cone_tip,
    describe_tip,
    double_tip,
    elliptic_paraboloid_tip,
    paraboloid_tip,
    physical_tip,
    pyramid_tip,
    sphere_tip,
    tip_to_mesh,
    tip_to_volume,
    validate_tip,
    volume_to_tip,
)
from synthetic import random_asymmetric_tip

MODELS = [
    pytest.param(lambda: pyramid_tip(31, 1.5, sides=4), id="pyramid"),
    pytest.param(lambda: pyramid_tip(25, (1.0, 2.0), sides=3, rotation_deg=17, anisotropy=1.4), id="pyramid3-aniso"),
    pytest.param(lambda: cone_tip(21, 0.7), id="cone"),
    pytest.param(lambda: paraboloid_tip(15, 3.0), id="paraboloid"),
    pytest.param(lambda: elliptic_paraboloid_tip(19, 1.0, anisotropy=2.0, rotation_deg=30), id="elliptic"),
    pytest.param(lambda: sphere_tip(41, 1.0, radius_nm=12), id="sphere"),
]


@pytest.mark.parametrize("make", MODELS)
def test_models_obey_the_p_convention(make):
    tip = make()
    k = tip.shape[0]
    assert tip.shape == (k, k) and k % 2 == 1
    assert tip[k // 2, k // 2] == 0 and tip.max() <= 0
    validate_tip(tip)


def test_cone_matches_its_formula():
    r_apex, alpha = 5.0, math.radians(20)
    tip = cone_tip(41, 1.0, half_angle_deg=20, apex_radius_nm=r_apex)
    # on the flank: h = r / tan(a) - R (1/sin(a) - 1); inside the cap: R - sqrt(R^2 - r^2)
    assert -tip[20, 40] == pytest.approx(20 / math.tan(alpha) - r_apex * (1 / math.sin(alpha) - 1))
    assert -tip[20, 21] == pytest.approx(r_apex - math.sqrt(r_apex**2 - 1))


def test_pyramid_faces_have_the_half_angle_and_rotation():
    tip = pyramid_tip(41, 1.0, sides=4, half_angle_deg=35, apex_radius_nm=0.0)
    # face normal along +x: height grows as x / tan(35 deg) along the axis
    assert -tip[20, 40] == pytest.approx(20 / math.tan(math.radians(35)))
    # along the diagonal, the edge: projection on the face normal is 20 nm too
    assert -tip[0, 0] == pytest.approx(20 / math.tan(math.radians(35)))
    rotated = pyramid_tip(41, 1.0, sides=4, half_angle_deg=35, apex_radius_nm=0.0, rotation_deg=45)
    assert -rotated[20, 40] == pytest.approx(20 * math.cos(math.radians(45)) / math.tan(math.radians(35)))


def test_triangular_pyramid_is_reflected_into_p():
    """P(v) = -p(-v): the physical face normal at +x images at -x in P."""
    tip = pyramid_tip(21, 1.0, sides=3, half_angle_deg=30, apex_radius_nm=0.0)
    phys = physical_tip(tip)
    # a face normal along +x means a face rising as x / tan(30) on the +x side, an edge on -x
    assert phys[10, 20] == pytest.approx(10 / math.tan(math.radians(30)))
    assert phys[10, 0] == pytest.approx(10 * math.cos(math.radians(60)) / math.tan(math.radians(30)))
    assert -tip[10, 0] == pytest.approx(phys[10, 20])


def test_descriptors_of_analytic_tips():
    para = describe_tip(paraboloid_tip(31, 1.0, apex_radius_nm=20), 1.0)
    assert para.apex_radius_nm == pytest.approx(20, rel=1e-6)
    assert para.asymmetry == pytest.approx(0, abs=1e-12) and not para.double_tip
    sphere = describe_tip(sphere_tip(61, 1.0, radius_nm=30), 1.0)
    assert sphere.apex_radius_nm == pytest.approx(30, rel=0.02)
    cone = describe_tip(cone_tip(41, 1.0, half_angle_deg=20, apex_radius_nm=1), 1.0)
    assert cone.half_angle_deg == pytest.approx(20, abs=0.5)
    pyr = describe_tip(pyramid_tip(41, 2.0, sides=3, half_angle_deg=35, apex_radius_nm=10), 2.0)
    assert pyr.half_angle_deg == pytest.approx(35, abs=1.0)
    assert pyr.asymmetry > 0.2


def test_double_tip_flag():
    single = cone_tip(31, 1.0, half_angle_deg=30, apex_radius_nm=2)
    assert not describe_tip(single, 1.0).double_tip
    assert describe_tip(double_tip(single, (0, 6), 2.0), 1.0).double_tip
    assert describe_tip(double_tip(single, (-5, 4), 3.0), 1.0).double_tip


def test_validate_tip_rejects_broken_tips():
    with pytest.raises(ParameterError, match="apex"):
        validate_tip(-np.ones((3, 3)))
    with pytest.raises(ParameterError, match="<= 0"):
        validate_tip(np.array([[0.5, 0, 0], [0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ParameterError, match="odd square"):
        validate_tip(np.zeros((4, 4)))
    with pytest.raises(ParameterError, match="half-angle"):
        cone_tip(11, 1.0, half_angle_deg=95)


def test_float_volume_round_trip_is_exact_and_unmirrored(rng):
    tip = random_asymmetric_tip(15, rng, depth=20.0)
    vol = tip_to_volume(tip, 2.0, shape=(40, 15, 15))
    assert vol.voxel_nm == pytest.approx((20.0 * 1 / 40 * (-tip.min() / 20.0), 2.0, 2.0))
    np.testing.assert_allclose(volume_to_tip(vol), tip, atol=1e-5)
    # physical orientation: voxel column (i, j) holds the physical tip p(u) = -P(-u)
    phys = physical_tip(tip)
    filled = vol.data.sum(axis=0) * vol.voxel_nm[0]
    np.testing.assert_allclose(filled, -tip.min() - phys, atol=1e-5)


def test_binary_volume_is_within_half_a_voxel_and_default_is_32_cubed():
    tip = pyramid_tip(31, 1.0, sides=3, apex_radius_nm=4)
    vol = tip_to_volume(tip, 1.0, binary=True)
    assert vol.data.shape == (32, 32, 32) and vol.data.dtype == bool
    back = volume_to_tip(tip_to_volume(tip, 1.0, shape=(32, 31, 31), binary=True))
    assert np.abs(back - tip).max() <= vol.voxel_nm[0] / 2 + 1e-9


def test_mesh_is_closed_and_encloses_the_right_volume(rng):
    tip = random_asymmetric_tip(9, rng, depth=6.0)
    mesh = tip_to_mesh(tip, (1.5, 2.0))
    faces = mesh.faces
    # closed and consistently oriented: every directed edge appears once, its reverse once
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = {tuple(e) for e in edges}
    assert len(directed) == len(edges)
    assert all((b, a) in directed for a, b in directed)
    v = mesh.vertices[faces]
    signed = np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6
    # independent: integral of (depth - p) over the triangulated grid, two triangles per cell
    depth = mesh.vertices[:, 2].max()
    assert depth == pytest.approx(-tip.min() + 2.0)  # lid one pixel above the deepest point
    g = depth - physical_tip(tip)
    cell = 1.5 * 2.0
    expected = sum(
        cell / 6 * (g[i, j] + g[i + 1, j + 1] + g[i, j + 1]) + cell / 6 * (g[i, j] + g[i + 1, j + 1] + g[i + 1, j])
        for i in range(8)
        for j in range(8)
    )
    assert signed == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("radius", "pixel"), [(10.0, 0.5), (20.0, 1.0), (5.0, 0.25)])
def test_a_paraboloid_widens_a_feature_of_height_h_by_two_root_rh(radius, pixel):
    """h = r²/2R cut at depth h/2: a disc of radius sqrt(R h), so the width added at half height is 2 sqrt(R h)."""
    from napari_se3afm.tip import paraboloid_tip
    from napari_se3afm.tip.broadening import tip_broadening

    widths = tip_broadening(paraboloid_tip(61, pixel, apex_radius_nm=radius), pixel, (1.0, 2.0, 5.0))
    for h, width in zip((1.0, 2.0, 5.0), widths.values(), strict=True):
        assert width == pytest.approx(2 * np.sqrt(radius * h), rel=0.01)


@pytest.mark.parametrize(("angle", "apex", "pixel"), [(20.0, 0.01, 0.25), (35.0, 0.01, 0.5), (15.0, 5.0, 0.5)])
def test_a_rounded_cone_widens_by_its_cap_then_by_h_tan_alpha(angle, apex, pixel):
    """A cone of half-angle α with a spherical cap of radius R tangent to it: within the cap (depth below
    R(1 − sin α)) the cut is a circle of radius sqrt(2 R d − d²); beyond it the flank's circle of radius
    (d + R(1/sin α − 1)) tan α — h tan α for a sharp cone. Within 2 % where the cut spans four pixels or
    more, 5 % from two (a cone's apex is sharper than its pixels)."""
    from napari_se3afm.tip import cone_tip
    from napari_se3afm.tip.broadening import tip_broadening

    a = np.radians(angle)
    heights = (1.0, 2.0, 5.0, 10.0)
    widths = tip_broadening(cone_tip(61, pixel, half_angle_deg=angle, apex_radius_nm=apex), pixel, heights)
    for h, width in zip(heights, widths.values(), strict=True):
        d = h / 2
        if d < apex * (1 - np.sin(a)):
            expected = 2 * np.sqrt(2 * apex * d - d * d)
        else:
            expected = 2 * (d + apex * (1 / np.sin(a) - 1)) * np.tan(a)
        if expected >= 2 * pixel:
            assert width == pytest.approx(expected, rel=0.02 if expected >= 4 * pixel else 0.05), h


def test_broadening_of_an_elongated_tip_is_its_mean_extent_and_beyond_the_window_is_nan():
    """An elliptic paraboloid's cut is an ellipse of semi-axes sqrt(2 R_i d): averaged over directions its
    extent is its perimeter over π (Ramanujan's perimeter). A cut that reaches the window's edge is NaN."""
    from napari_se3afm.tip import elliptic_paraboloid_tip
    from napari_se3afm.tip.broadening import broadening_text, tip_broadening

    tip = elliptic_paraboloid_tip(61, 0.5, apex_radius_nm=8.0, anisotropy=2.0)
    b = tip_broadening(tip, 0.5, (2.0, 50.0))
    y, x = np.nonzero(tip >= -1.0)  # the cut at d = 1 nm, to read the semi-axes the shape really has
    ay, ax = (np.ptp(y) + 1) * 0.25, (np.ptp(x) + 1) * 0.25
    perimeter = np.pi * (3 * (ax + ay) - np.sqrt((3 * ax + ay) * (ax + 3 * ay)))
    assert b["broadening_2nm"] == pytest.approx(perimeter / np.pi, rel=0.05)
    assert np.isnan(b["broadening_50nm"])
    assert broadening_text(b) == f"widens 2 / 50 nm features at half height by {b['broadening_2nm']:.2g} / > window nm"
    # a width under two pixels is not resolved by the scan: said so, not given to two digits
    coarse = broadening_text(b, pixel_nm=0.6 * b["broadening_2nm"])
    assert "by < " in coarse and coarse.endswith("(under two pixels: not resolved)")


def test_an_apex_sharper_than_a_pixel_reads_as_an_upper_limit():
    """A paraboloid of radius 0.5 nm imaged at 2 nm pixels fits to a radius under a pixel: only "≤ 2
    nm" is known; at 0.1 nm pixels the same tip is resolved and reads as its radius."""
    from napari_se3afm.tip import describe_tip, paraboloid_tip
    from napari_se3afm.tip.descriptors import descriptor_text

    coarse = describe_tip(paraboloid_tip(15, 2.0, apex_radius_nm=0.5), 2.0).apex_radius_nm
    assert coarse < 2.0
    assert descriptor_text("apex_radius_nm", coarse, 0.3, " nm", 2.0) == "≤ 2 nm (under a pixel: not resolved)"
    fine = describe_tip(paraboloid_tip(31, 0.1, apex_radius_nm=0.5), 0.1).apex_radius_nm
    assert fine == pytest.approx(0.5, rel=0.05)
    assert descriptor_text("apex_radius_nm", fine, 0.1, " nm", 0.1).startswith("0.5")
    assert descriptor_text("half_angle_deg", 0.5, 0.1, "°", 2.0) == "0.5 ± 0.1°"  # the floor is the radius's
    assert descriptor_text("apex_radius_nm", float("nan"), None, " nm", 2.0) == "not measurable"
    assert descriptor_text("half_angle_deg", 35.0, float("nan"), "°", 2.0) == "35° (σ unknown)"
    assert descriptor_text("half_angle_deg", 35.0, None, "°", 2.0) == "35°"  # a method without σ
