"""The SimTip test splits the benchmarks read (made once, as docs/benchmarks.md says), by their label."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = {
    "default": "simtip_test",
    "wide": "simtip_test_wide",
    "shifted": "simtip_test_shifted",
    "real morphologies": "simtip_test_real",
}
