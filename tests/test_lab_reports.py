"""The release's tables from benchmark records, against figures worked out by hand."""

from __future__ import annotations

import json

import pytest

from napari_se3afm.cli import main
from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.reports import calibration_table, compare_runs, per_scan_table, summary_table


def _record(scan, method, tip, surface, *, tip_type="conical", surface_type="particles", depth=10.0, ece=None):
    covered = None if ece is None else 1.0 - 0.1 * scan  # scans 0, 1, 2 cover 100 %, 90 %, 80 % within 2σ
    return {
        "scan": scan,
        "method": method,
        "tip_rmse": tip,
        "surface_rmse": surface,
        "time_s": 0.5 + scan,
        "tip_type": tip_type,
        "surface_type": surface_type,
        "probe_depth_nm": depth,
        "pixel_nm": 2.0,
        "surface_ece": ece,
        "tip_ece": None if ece is None else 2 * ece * (scan + 1),
        "surface_within_2sigma": covered,
        "tip_within_2sigma": covered,
    }


@pytest.fixture
def run(tmp_path):
    """Three scans; BTR's tip errors 2, 4, 6 nm (mean 4) and the model's 1, 1, 10 (mean 4: × BTR
    1.00, scan 2 worse than 1.5 × BTR); surfaces 3, 3, 3 against 1.5, 1.5, 1.5 (× BTR 0.50)."""
    records = [_record(s, "btr", 2.0 * (s + 1), 3.0) for s in range(3)]
    records += [_record(s, "model", t, 1.5, ece=0.1, depth=5.0 * (s + 1)) for s, t in enumerate((1.0, 1.0, 10.0))]
    for r in records[3:]:
        r["tip_bias"] = -r["tip_rmse"] / 2  # the model's tips sharper than the truth
    folder = tmp_path / "run"
    folder.mkdir()
    pooled = {"model": {"surface_ece": 0.05, "tip_ece": 0.02}}
    (folder / "records.json").write_text(
        json.dumps({"methods": ["btr", "model"], "records": records, "pooled": pooled})
    )
    return folder


def test_summary_rows_give_means_medians_worst_and_ratios_to_btr(run):
    rows = summary_table([run]).splitlines()
    assert rows[2] == "| run | btr | 3 | 4.000 / 4.000 / 6.000 | 1.00 | 3.000 / 3.000 / 3.000 | 1.00 | 1.50 / 2.50 |"
    assert rows[3] == "| run | model | 3 | 4.000 / 1.000 / 10.000 | 1.00 | 1.500 / 1.500 / 1.500 | 0.50 | 1.50 / 2.50 |"


def test_calibration_rows_give_per_scan_ece_and_the_worst_scans_coverage(run, monkeypatch):
    # surface ECE 0.1 on every scan; tip ECE 0.2, 0.4, 0.6 (90th percentile 0.56); pooled as written
    rows = calibration_table([run]).splitlines()
    assert len(rows) == 3  # BTR has no σ: no row
    assert rows[2] == "| run | model | 0.100 / 0.100 | 0.400 / 0.560 | 0.050 / 0.020 | 90% / 90% |"
    # the worst scan alone: the model's tip error is largest on scan 2 (80 %); surfaces tie, stable order
    monkeypatch.setattr("napari_se3afm.lab.reports.WORST_SCANS", 1)
    assert calibration_table([run]).splitlines()[2].endswith("| 100% / 80% |")


def test_per_scan_table_lists_the_worst_scans_against_btr(run):
    text = per_scan_table([run])
    assert "| run | 3 | 0.50 / 1.67, 1 | 0.50 / 0.50, 0 |" in text  # ratios 0.5, 0.25, 1.67
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    # worst first: scan 2 (10 against 6 nm), then scan 0 (1 against 2), then scan 1 (1 against 4); no needle run
    assert rows == [
        "| 2 | conical, particles | 2.00 | 15.0 | 10.00 (-5.0) | 6.00 | – | 1.67 |",
        "| 0 | conical, particles | 2.00 | 5.0 | 1.00 (-0.5) | 2.00 | – | 0.50 |",
        "| 1 | conical, particles | 2.00 | 10.0 | 1.00 (-0.5) | 4.00 | – | 0.25 |",
    ]


def test_two_runs_are_paired_scan_by_scan(run, tmp_path):
    data = json.loads((run / "records.json").read_text())
    for r in data["records"]:
        if r["method"] == "model":
            r["tip_rmse"] -= 0.5  # B better by 0.5 nm on every scan
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    text = compare_runs(run, other)
    assert (
        "| all (3) | 4.000 → 3.500 (-0.500 ± 0.000, 100% better) | 1.500 → 1.500 (+0.000 ± 0.000, 0% better) |" in text
    )
    assert "shallowest third of probe depth" in text


def test_the_lab_commands_print_the_tables_and_refuse_a_run_without_btr(run, tmp_path, capsys):
    assert main(["lab", "report", str(run)]) == 0
    assert "| run | model | 3 |" in capsys.readouterr().out
    assert main(["lab", "compare", str(run), str(run), "--methods", "btr,model"]) == 0
    assert "| all (3) | 4.000 → 4.000" in capsys.readouterr().out
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "records.json").write_text(json.dumps({"records": [_record(0, "model", 1.0, 1.0)]}))
    with pytest.raises(ParameterError, match="no classical BTR records"):
        summary_table([lone])
    assert main(["lab", "report", str(tmp_path / "missing")]) == 2
    assert "not the records.json" in capsys.readouterr().err
