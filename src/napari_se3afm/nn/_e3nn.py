"""e3nn, imported without torch's compiler.

One e3nn function (``o3._wigner``) is decorated with ``torch.compiler.disable`` when e3nn is
imported, and that call imports ``torch._dynamo``: 1.2 s of every model command's start on a 2-core
CPU, for a compiler the project never runs. While e3nn is imported, ``torch.compiler.disable`` is an
identity decorator (it marks code the compiler must skip; without a compiler nothing changes), then
it is restored. Import e3nn's names from here.
"""

from __future__ import annotations

import contextlib

import torch
import torch.compiler


@contextlib.contextmanager
def _compiler_untouched():
    original = torch.compiler.disable

    def identity(fn=None, recursive=True, *, reason=None):
        return fn if fn is not None else (lambda f: f)

    torch.compiler.disable = identity
    try:
        yield
    finally:
        torch.compiler.disable = original


with _compiler_untouched():
    from e3nn import o3
    from e3nn.math import soft_one_hot_linspace
    from e3nn.nn import Dropout, FullyConnectedNet, Gate

__all__ = ["Dropout", "FullyConnectedNet", "Gate", "o3", "soft_one_hot_linspace"]
