"""The block library: concrete :class:`~netbuilder.core.spec.BlockSpec` subclasses.

One module per family (:mod:`~netbuilder.blocks.basic`, :mod:`~netbuilder.blocks.conv`,
:mod:`~netbuilder.blocks.pool`, :mod:`~netbuilder.blocks.norm`,
:mod:`~netbuilder.blocks.act`, :mod:`~netbuilder.blocks.merge`,
:mod:`~netbuilder.blocks.composite`), built from shared helpers:
:mod:`~netbuilder.blocks.shape_checks` (input shapes and dimensions),
:mod:`~netbuilder.blocks.windows` (sliding-window arithmetic),
:mod:`~netbuilder.blocks.params` (parameter declarations and checks),
:mod:`~netbuilder.blocks.formatting` (labels, formulas and messages) and
:mod:`~netbuilder.blocks.lazy_torch`.

Conventions every block follows:

* **MACs** count the multiply-accumulates of convolutions, transposed convolutions, linear
  layers and attention's matrix products (:mod:`~netbuilder.blocks.transformer`) only;
  bias additions are not counted, and every other block (pooling, normalisation,
  activations, merges) reports 0, as most published model tables do.
* **Parameters** are what ``module.parameters()`` yields. **Buffers** are the values of
  ``module.buffers()`` except batch norm's ``num_batches_tracked`` counter, which is
  bookkeeping rather than a stored statistic.
* Shapes, dimension indices and receptive fields: see
  :mod:`~netbuilder.blocks.shape_checks` and :mod:`~netbuilder.blocks.windows`.

Importing this package never imports torch: every ``build()`` imports it lazily
(:mod:`~netbuilder.blocks.lazy_torch`).
"""

from __future__ import annotations

from netbuilder.blocks import (
    act,
    basic,
    composite,
    conv,
    convnext,
    merge,
    mobile,
    norm,
    opaque,
    pool,
    shape_ops,
    transformer,
)
from netbuilder.core.registry import BlockRegistry

MODULES = (basic, conv, pool, norm, act, merge, shape_ops, composite, convnext, mobile,
           transformer, opaque)


def register_all(registry: BlockRegistry) -> None:
    """Register every built-in block into ``registry``."""
    for module in MODULES:
        module.register(registry)
