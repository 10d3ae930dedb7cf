"""napari tests need napari and a display (pytest-xvfb starts Xvfb); skip cleanly without napari."""

import pytest

pytest.importorskip("napari")
