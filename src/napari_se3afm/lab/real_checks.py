"""Truth-free checks of a reconstruction of a real scan: what a microscopist sees at first sight.

A real scan has no known tip or surface, but a reconstruction can still be wrong in ways visible
without one: a surface speckled with pixel-sized pits, a σ map with a regular pattern of dots, a frame
along the edges, a surface that no longer reproduces its image, and two tips for one tip. Each check
compares the reconstruction with its own image:

* **pits**: the share of pixels lying below all four neighbours by more than
  ``max(3 σ_n, 2 % of the height range)``, surface against image (σ_n: the image's white noise);
* **high-frequency share**: the share of a map's power above 0.35 cycles/px (Hann-windowed), of the
  surface against the image's, and of the σ map (a checkerboard puts its power there);
* **edge band**: the mean lowering ``I − S`` over the band 0–9 px from the edge against the interior.
  Part of a difference is the image's own: near an edge fewer image points bound the surface, and a
  scan's structure (streaks, a scar) can differ there. So the frame judged is what the surface adds
  to the erosion bound's own difference (``I − R``, ``R = erode(I, P)``): a frame where that exceeds
  both 10 % of the interior's lowering and the image's noise σ_n, below which nothing can be seen;
* **re-dilation residual**: the RMS of ``I − dilate(S, P)`` in units of σ_n;
* **same-tip halves** (:func:`same_tip_halves`): the tips of the top and bottom halves (and of the left
  and right halves) of one scan, one tip, compared over the central pixels in units of their σ, and
  their apex radius, half-angle and asymmetry in units of the descriptors' σ (:func:`descriptor_z`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .metrics import edge_band_means

__all__ = [
    "EDGE_BAND_PX",
    "HIGH_FREQUENCY",
    "HalvesCheck",
    "ScanChecks",
    "descriptor_z",
    "high_frequency_share",
    "pit_share",
    "same_tip_halves",
    "scan_checks",
]

#: cycles per pixel above which a map's power counts as high-frequency (Nyquist is 0.5)
HIGH_FREQUENCY = 0.35
#: the edge band: pixels closer than this to an edge
EDGE_BAND_PX = 10
#: the central window of the tips compared between halves (the apex left out)
CENTRE_PX = 15
#: the descriptors compared between two reconstructions of one tip
AGREEMENT_DESCRIPTORS = ("apex_radius_nm", "half_angle_deg", "asymmetry")


def pit_share(z: np.ndarray, depth_nm: float) -> float:
    """Share of pixels below all four neighbours by more than ``depth_nm`` (the border left out)."""
    c = z[1:-1, 1:-1]
    neighbours = np.minimum.reduce([z[:-2, 1:-1], z[2:, 1:-1], z[1:-1, :-2], z[1:-1, 2:]])
    return float(np.mean(neighbours - c > depth_nm))


def high_frequency_share(a: np.ndarray, cutoff: float = HIGH_FREQUENCY) -> float:
    """Share of ``a``'s power (mean removed, Hann window) above ``cutoff`` cycles/px."""
    a = np.asarray(a, dtype=np.float64)
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    power = np.abs(np.fft.fft2((a - a.mean()) * window)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(a.shape[0]), np.fft.fftfreq(a.shape[1]), indexing="ij")
    total = power.sum()
    return float(power[np.hypot(fy, fx) > cutoff].sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class ScanChecks:
    """The truth-free checks of one reconstruction (see the module's docstring)."""

    noise_nm: float
    pits_image: float
    pits_surface: float
    hf_image: float
    hf_surface: float
    hf_sigma: float
    lowering_edge_nm: float
    lowering_inside_nm: float
    bound_edge_nm: float
    bound_inside_nm: float
    residual_rms_noise: float

    @property
    def frame_nm(self) -> float:
        """How much more (or less) the surface is lowered along the edges than inside, beyond the bound's own."""
        return (self.lowering_edge_nm - self.lowering_inside_nm) - (self.bound_edge_nm - self.bound_inside_nm)

    @property
    def edge_ratio(self) -> float:
        """The edge band's mean lowering over the interior's (1: no frame)."""
        return self.lowering_edge_nm / self.lowering_inside_nm if self.lowering_inside_nm > 0 else float("nan")

    @property
    def failed_bars(self) -> dict[str, str]:
        """The bars of docs/real_scans.md this reconstruction fails — ``"pits"``, ``"surface"`` (its
        high-frequency share), ``"sigma"`` (the σ map's), ``"frame"`` — each with what it measured."""
        out = {}
        if self.pits_surface - self.pits_image > 0.002:
            out["pits"] = f"pits {100 * self.pits_surface:.2f} % against the image's {100 * self.pits_image:.2f} %"
        if self.hf_surface > 2 * max(self.hf_image, 1e-4):
            out["surface"] = (
                f"surface high-frequency share {self.hf_surface:.3g} against the image's {self.hf_image:.3g}"
            )
        if self.hf_sigma > 0.10:
            out["sigma"] = f"σ map high-frequency share {self.hf_sigma:.3g}"
        if abs(self.frame_nm) > max(0.10 * self.lowering_inside_nm, self.noise_nm):
            out["frame"] = (
                f"a frame: the edge band lowered by {self.lowering_edge_nm:.3g} nm, the interior by "
                f"{self.lowering_inside_nm:.3g} nm (the bound: {self.bound_edge_nm:.3g} and "
                f"{self.bound_inside_nm:.3g} nm; noise {self.noise_nm:.2g} nm)"
            )
        return out

    @property
    def failures(self) -> list[str]:
        """What a microscopist would reject, by the bars of docs/real_scans.md."""
        return list(self.failed_bars.values())


def scan_checks(result) -> ScanChecks:
    """The truth-free checks of a :class:`~napari_se3afm.results.Reconstruction`."""
    from ..image.morphology import dilate, erode
    from ..image.noise import estimate_noise

    z, s = result.image, result.surface
    noise = estimate_noise(z)
    depth = max(3 * noise, 0.02 * float(np.ptp(z)))
    residual = z - dilate(s, result.tip)
    sigma = result.surface_std if result.surface_std is not None else np.zeros_like(z)
    edge, inside = edge_band_means(z - s, EDGE_BAND_PX)
    bound_edge, bound_inside = edge_band_means(z - erode(z, result.tip), EDGE_BAND_PX)
    return ScanChecks(
        noise_nm=noise,
        pits_image=pit_share(z, depth),
        pits_surface=pit_share(s, depth),
        hf_image=high_frequency_share(z),
        hf_surface=high_frequency_share(s),
        hf_sigma=high_frequency_share(sigma),
        lowering_edge_nm=edge,
        lowering_inside_nm=inside,
        bound_edge_nm=bound_edge,
        bound_inside_nm=bound_inside,
        residual_rms_noise=float(np.sqrt(np.mean(residual**2))) / max(noise, 1e-12),
    )


@dataclass(frozen=True)
class HalvesCheck:
    """Two halves of one scan, one tip: how far apart their tips are, in nm and in their σ."""

    split: str
    rms_difference_nm: float
    rms_z: float
    within_2sigma: float
    apex_radius_nm: tuple[float, float]
    apex_radius_std_nm: tuple[float, float]
    #: :func:`descriptor_z` of the two halves
    descriptor_z: dict[str, float]


def descriptor_z(first, second, described: list[dict] | None = None) -> dict[str, float]:
    """Two reconstructions of one tip: each of :data:`AGREEMENT_DESCRIPTORS` as the difference of their
    values over their σ combined (``info["tip_descriptors_std"]``); NaN where either has no value
    or no σ. One tip: within 2 in 95 % of cases if the descriptors' σ are right. ``described``: the
    two tips' :func:`~napari_se3afm.tip.describe_tip` as dicts, where the caller has them already."""
    from ..tip import describe_tip

    pair = (first, second)
    described = described or [describe_tip(r.tip, r.pixel_nm).as_dict() for r in pair]
    out = {}
    for name in AGREEMENT_DESCRIPTORS:
        sigmas = [(r.info.get("tip_descriptors_std") or {}).get(name, float("nan")) for r in pair]
        combined = float(np.hypot(*sigmas))
        difference = abs(described[0][name] - described[1][name])
        out[name] = difference / combined if combined > 0 else float("nan")
    return out


def _central(p: np.ndarray) -> np.ndarray:
    c, h = p.shape[0] // 2, CENTRE_PX // 2
    return p[c - h : c + h + 1, c - h : c + h + 1]


def same_tip_halves(image: np.ndarray, pixel_nm, split: str = "rows", **settings) -> HalvesCheck:
    """Reconstruct the two halves of ``image`` (``split="rows"``: top and bottom; ``"columns"``: left and
    right) with ``settings`` and compare their tips over the central :data:`CENTRE_PX` pixels."""
    from ..pipeline import reconstruct
    from ..tip import describe_tip

    h, w = image.shape
    halves = (image[: h // 2], image[h // 2 :]) if split == "rows" else (image[:, : w // 2], image[:, w // 2 :])
    results = [reconstruct(half, pixel_nm, **settings) for half in halves]
    d = _central(results[0].tip - results[1].tip)
    if results[0].tip_std is not None:
        sigma = np.hypot(_central(results[0].tip_std), _central(results[1].tip_std))
    else:
        sigma = np.zeros_like(d)
    keep = np.ones(d.shape, bool)
    keep[CENTRE_PX // 2, CENTRE_PX // 2] = False  # the apex: 0 in both by convention
    zscore = d[keep] / np.maximum(sigma[keep], 1e-9)
    described = [describe_tip(r.tip, r.pixel_nm).as_dict() for r in results]
    radii = tuple(d["apex_radius_nm"] for d in described)
    spread = tuple((r.info.get("tip_descriptors_std") or {}).get("apex_radius_nm", float("nan")) for r in results)
    return HalvesCheck(
        split=split,
        rms_difference_nm=float(np.sqrt(np.mean(d[keep] ** 2))),
        rms_z=float(np.sqrt(np.mean(zscore**2))),
        within_2sigma=float(np.mean(np.abs(zscore) <= 2)),
        apex_radius_nm=radii,  # type: ignore[arg-type]
        apex_radius_std_nm=spread,  # type: ignore[arg-type]
        descriptor_z=descriptor_z(*results, described=described),
    )


def real_checks_report(
    folder: str | Path,
    *,
    method: str = "auto",
    model: str | None = None,
    halves: bool = True,
    only: str | None = None,
) -> tuple[str, list[str]]:
    """Every scan file of ``folder`` (its height channel, levelled as the pipeline does) through
    ``method`` (and ``model``, a name or weights file; default the default model): the table of
    :func:`scan_checks`, with ``halves`` the table of :func:`same_tip_halves` (top against bottom,
    left against right; held to 2σ where the method gives a tip σ; the descriptors' agreement counted
    at the end), as markdown; and every bar that failed, one line each."""
    import time

    from ..io import find_scans, read_height_map
    from ..pipeline import reconstruct

    settings = {"method": method, "device": "cpu", **({"model": model} if model else {})}
    files = [f for f in find_scans([Path(folder)]) if not only or only in f.name]
    if not files:
        raise ParameterError(f"{folder}: no scan file{f' with {only!r} in its name' if only else ''}")
    lines = [
        "| file | px (nm) | σ_n (nm) | pits image / surface (%) | HF image / surface / σ "
        "| lowering edge band / interior (nm) | the bound's (nm) | residual RMS / σ_n (whole image) | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    halves_rows, failures, agreement = [], [], []
    for path in files:
        data = read_height_map(path)
        start = time.perf_counter()
        result = reconstruct(data.height, data.pixel_nm, **settings)
        seconds = time.perf_counter() - start
        c = scan_checks(result)
        lines.append(
            f"| {path.name} | {np.sqrt(np.prod(data.pixel_nm)):.3g} | {c.noise_nm:.3g} | {100 * c.pits_image:.2f} / "
            f"{100 * c.pits_surface:.2f} | {c.hf_image:.4f} / {c.hf_surface:.4f} / {c.hf_sigma:.4f} "
            f"| {c.lowering_edge_nm:.3g} / {c.lowering_inside_nm:.3g} "
            f"| {c.bound_edge_nm:.3g} / {c.bound_inside_nm:.3g} | {c.residual_rms_noise:.2f} | {seconds:.1f} |"
        )
        failures += [f"{path.name}: {f}" for f in c.failures]
        for split in ("rows", "columns") if halves else ():
            try:
                h = same_tip_halves(result.image, data.pixel_nm, split, levelling=(), **settings)
            except ParameterError as exc:  # a half too small for the model's window
                halves_rows.append(f"| {path.name} | {split} | {exc} | | | | |")
                continue
            if result.tip_std is None:  # a method without σ: the difference alone, nothing to hold it to
                halves_rows.append(
                    f"| {path.name} | {split} | {h.rms_difference_nm:.3g} | – | – "
                    f"| {h.apex_radius_nm[0]:.3g} / {h.apex_radius_nm[1]:.3g} | – |"
                )
                continue
            z = h.descriptor_z
            agreement += [v for v in z.values() if np.isfinite(v)]
            halves_rows.append(
                f"| {path.name} | {split} | {h.rms_difference_nm:.3g} | {h.rms_z:.2f} | {100 * h.within_2sigma:.0f} % "
                f"| {h.apex_radius_nm[0]:.3g} ± {h.apex_radius_std_nm[0]:.2g} / "
                f"{h.apex_radius_nm[1]:.3g} ± {h.apex_radius_std_nm[1]:.2g} "
                f"| {' / '.join(f'{z[name]:.2f}' for name in AGREEMENT_DESCRIPTORS)} |"
            )
            if h.rms_z > 2:
                failures.append(f"{path.name}: halves ({split}) differ by RMS {h.rms_z:.2f} σ")
    if halves_rows:
        lines += [
            "",
            "| file | halves | RMS tip difference (nm) | RMS z | within 2σ | apex radius (nm) "
            "| z: apex radius / half-angle / asymmetry |",
            "|---|---|---|---|---|---|---|",
            *halves_rows,
        ]
    if agreement:
        within = np.asarray(agreement) <= 2
        share = f"{int(within.sum())} of {within.size} ({within.mean():.0%})"
        lines += ["", f"Descriptors of two halves within 2σ: {share}."]
    return "\n".join(lines), failures
