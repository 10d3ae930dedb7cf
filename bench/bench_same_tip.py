"""One tip, two scans: does the default reconstruction give the same tip from both, within its σ?

    .venv/bin/python bench/bench_same_tip.py [PAIRS] [MODEL]      # default 24 pairs, the default model

Each pair is two SimTip scans (the wide configuration: pixels of 0.25–60 nm, as on real scans) of
two different surfaces imaged by one tip (``simulate(..., tip_indices=...)``, stream seed 3 000 003,
used by nothing else). Over the central 15 × 15 tip pixels (the apex left out) and only where both
scans could probe the tip (the shallower probe depth), the tips of the two scans differ by
``d = P₁ − P₂``; with the model's σ maps ``z = d / sqrt(σ₁² + σ₂²)``. "Same within σ" is an RMS of
``z`` near 1 or below, and most ``|z| ≤ 2``. Classical BTR's ``d`` is shown beside, and each
method's error against the true tip. The descriptors (apex radius, half-angle, asymmetry) of the two
tips are compared with their σ the same way: one tip, so they should agree within 2σ in at least
90 % of the pairs. Prints markdown: one row per pair and a summary.
"""

import sys

import numpy as np
import torch

from napari_se3afm.lab.metrics import probe_depth
from napari_se3afm.lab.real_checks import AGREEMENT_DESCRIPTORS, descriptor_z
from napari_se3afm.lab.simtip import load_config, simulate
from napari_se3afm.nn.registry import DEFAULT_MODEL
from napari_se3afm.pipeline import reconstruct
from napari_se3afm.tip import describe_tip

SEED = 3_000_003
CENTRE = 15


def relative_sigma(results, described: list[dict]) -> dict[str, float]:
    """Per descriptor, its σ over its value, averaged over the two reconstructions (vanishingly small?)."""
    out = {}
    for name in AGREEMENT_DESCRIPTORS:
        values = [d[name] for d in described]
        sigmas = [r.info["tip_descriptors_std"].get(name, np.nan) for r in results]
        out[name] = float(np.mean(sigmas) / max(np.mean(np.abs(values)), 1e-12))
    return out


def central(p: np.ndarray) -> np.ndarray:
    c, h = p.shape[0] // 2, CENTRE // 2
    return p[c - h : c + h + 1, c - h : c + h + 1]


def main(pairs: int, model: str) -> None:
    torch.set_num_threads(1)
    cfg = load_config("configs/simtip/wide.json")
    print(
        "| pair | px (nm) | model: RMS d (nm) | RMS z | share |z| ≤ 2 | BTR: RMS d (nm) | model / BTR tip error (nm) "
        "| z of apex radius, half-angle, asymmetry |"
    )
    print("|---|---|---|---|---|---|---|---|")
    summary = {"d": [], "z": [], "within": [], "btr": [], "err": [], "btr_err": []}
    described = {name: [] for name in AGREEMENT_DESCRIPTORS}
    relative = {name: [] for name in AGREEMENT_DESCRIPTORS}
    for p in range(pairs):
        a, b = 2 * p, 2 * p + 1
        batch = simulate([a, b], seed=SEED, config=cfg, dtype=torch.float64, tip_indices=[a, a])
        truth = central(batch.tip[0].numpy())
        pixel = float(batch.pixel_nm[0])
        k = batch.tip.shape[-1]
        depth = min(probe_depth(batch.surface[i].numpy(), k) for i in (0, 1))
        seen = truth >= -depth
        seen[CENTRE // 2, CENTRE // 2] = False
        m = [reconstruct(batch.image[i].numpy(), pixel, method="model", model=model, levelling=()) for i in (0, 1)]
        c = [reconstruct(batch.image[i].numpy(), pixel, method="btr", levelling=()) for i in (0, 1)]
        tips = [central(r.tip) for r in m]
        sig = [central(r.tip_std) for r in m]
        d = (tips[0] - tips[1])[seen]
        z = d / np.sqrt(sig[0][seen] ** 2 + sig[1][seen] ** 2)
        dc = (central(c[0].tip) - central(c[1].tip))[seen]
        err = np.mean([np.sqrt(np.mean((t - truth)[seen] ** 2)) for t in tips])
        btr_err = np.mean([np.sqrt(np.mean((central(r.tip) - truth)[seen] ** 2)) for r in c])
        row = {
            "d": np.sqrt(np.mean(d**2)),
            "z": np.sqrt(np.mean(z**2)),
            "within": np.mean(np.abs(z) <= 2),
            "btr": np.sqrt(np.mean(dc**2)),
            "err": err,
            "btr_err": btr_err,
        }
        for key, value in row.items():
            summary[key].append(value)
        descriptors = [describe_tip(r.tip, r.pixel_nm).as_dict() for r in m]
        dz, rel = descriptor_z(*m, described=descriptors), relative_sigma(m, descriptors)
        for name in AGREEMENT_DESCRIPTORS:
            described[name].append(dz[name])
            relative[name].append(rel[name])
        print(
            f"| {p} | {pixel:.2f} | {row['d']:.2f} | {row['z']:.2f} | {row['within']:.0%} | {row['btr']:.2f} | "
            f"{err:.2f} / {btr_err:.2f} | {', '.join(f'{v:.2f}' for v in dz.values())} |",
            flush=True,
        )
    med = {key: np.median(v) for key, v in summary.items()}
    print(
        f"\nmedian over {pairs} pairs: model RMS d {med['d']:.2f} nm, RMS z {med['z']:.2f} "
        f"(worst {max(summary['z']):.2f}), |z| ≤ 2 on {med['within']:.0%} of the pixels; "
        f"BTR RMS d {med['btr']:.2f} nm; tip error model {med['err']:.2f} nm, BTR {med['btr_err']:.2f} nm"
    )
    for name, zs in described.items():
        zs = np.asarray(zs)
        known = zs[np.isfinite(zs)]
        print(
            f"{name}: within 2σ on {np.sum(known <= 2)} of {known.size} pairs with a σ "
            f"({int(np.sum(np.isnan(zs)))} with σ unknown), "
            f"z median {np.nanmedian(zs):.2f}, worst {np.nanmax(zs):.2f}; "
            f"σ / value median {np.nanmedian(relative[name]):.2f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24, sys.argv[2] if len(sys.argv) > 2 else DEFAULT_MODEL)
