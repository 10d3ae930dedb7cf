"""The napari adapter: the only part of napari-se3afm that may import napari, magicgui or Qt."""
