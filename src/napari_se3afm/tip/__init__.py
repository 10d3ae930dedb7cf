"""Tips: analytic model shapes, descriptors measured from any tip, and the tip as a 3-D object.

Imports numpy only (no torch), so the napari reader and writers stay light.
"""

from .descriptors import TipDescriptors, describe_tip, validate_tip
from .geometry import TipMesh, TipVolume, physical_tip, tip_to_mesh, tip_to_volume, volume_to_tip
from .shapes import (
    cone_tip,
    double_tip,
    elliptic_paraboloid_tip,
    paraboloid_tip,
    pyramid_tip,
    sphere_tip,
    tip_offsets_nm,
)

__all__ = [
    "TipDescriptors",
    "TipMesh",
    "TipVolume",
    "cone_tip",
    "describe_tip",
    "double_tip",
    "elliptic_paraboloid_tip",
    "paraboloid_tip",
    "physical_tip",
    "pyramid_tip",
    "sphere_tip",
    "tip_offsets_nm",
    "tip_to_mesh",
    "tip_to_volume",
    "validate_tip",
    "volume_to_tip",
]
