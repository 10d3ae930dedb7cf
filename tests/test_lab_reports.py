"""The release's tables from benchmark records, against figures worked out by hand."""

from __future__ import annotations

import json

import pytest

from napari_se3afm.cli import main
from napari_se3afm.errors import ParameterError
from napari_se3afm.lab.reports import compare_runs, per_scan_table, summary_table


def _record(scan, method, tip, surface, *, tip_type="conical", surface_type="particles", depth=10.0, ece=None):
    return {
        "scan": scan,
        "method": method,
        "tip_rmse": tip,
        "surface_rmse": surface,
        "time_s": 0.5 + scan,
        "tip_type": tip_type,
        "surface_type": surface_type,
        "probe_depth_nm": depth,
        "surface_ece": ece,
    }


@pytest.fixture
def run(tmp_path):
    """Three scans; BTR's tip errors 2, 4, 6 nm (mean 4) and the model's 1, 1, 10 (mean 4: × BTR
    1.00, scan 2 worse than 1.5 × BTR); surfaces 3, 3, 3 against 1.5, 1.5, 1.5 (× BTR 0.50)."""
    records = [_record(s, "btr", 2.0 * (s + 1), 3.0) for s in range(3)]
    records += [_record(s, "model", t, 1.5, ece=0.1, depth=5.0 * (s + 1)) for s, t in enumerate((1.0, 1.0, 10.0))]
    folder = tmp_path / "run"
    folder.mkdir()
    pooled = {"model": {"surface_ece": 0.05, "tip_ece": 0.02}}
    (folder / "records.json").write_text(
        json.dumps({"methods": ["btr", "model"], "records": records, "pooled": pooled})
    )
    return folder


def test_summary_rows_give_means_medians_and_ratios_to_btr(run):
    rows = summary_table([run]).splitlines()
    assert rows[2] == "| run | btr | 3 | 4.000 / 4.000 | 1.00 | 3.000 / 3.000 | 1.00 | – | 1.50 / 2.50 |"
    assert (
        rows[3]
        == "| run | model | 3 | 4.000 / 1.000 | 1.00 | 1.500 / 1.500 | 0.50 | 0.100 / 0.050 / 0.020 | 1.50 / 2.50 |"
    )


def test_per_scan_table_names_the_scans_worse_than_btr(run):
    text = per_scan_table([run])
    assert "| run | 3 | 0.50 / 1.67, 1 | 0.50 / 0.50, 0 |" in text  # ratios 0.5, 0.25, 1.67
    assert "* run scan 2 (conical tip, particles): tip_rmse 10.00 nm against BTR's 6.00" in text


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
