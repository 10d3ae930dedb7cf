"""Neural networks of napari-se3afm (the only package that imports e3nn): tip network, surface network,
joint model and Monte-Carlo dropout."""
