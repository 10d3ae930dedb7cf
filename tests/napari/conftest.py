"""napari tests need napari and a display (pytest-xvfb starts Xvfb); skip cleanly without napari."""

# Fixture order matters in tests that need both: request real_data_dir BEFORE make_napari_viewer, so a
# missing data folder skips before a viewer exists (napari's teardown fails on a test that never ran).

import pytest

pytest.importorskip("napari")
