"""``torch.nn`` modules of the transformer blocks (:mod:`netbuilder.blocks.transformer`).

Imports torch at module level, so the block specs import this file lazily, from
``build()``. Each module keeps its constructor arguments as attributes of the same names,
so that Python source export can write the constructor call back; parameter names follow
torchvision's Vision Transformer, so its ``state_dict`` entries load with the same keys.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class SelfAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` used as self-attention on a batch-first token sequence.

    ``forward(x)`` is ``MultiheadAttention.forward(x, x, x, need_weights=False)[0]``: the
    queries, keys and values are all the input, and only the attended output is returned.
    The parameters are ``MultiheadAttention``'s own (``in_proj_weight``,
    ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``), as in torchvision's ViT
    ``EncoderBlock.self_attention``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True) -> None:
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True)
        self.bias = bias

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """Attend every token of ``x`` (N×L×E) to every token; N×L×E."""
        return super().forward(x, x, x, need_weights=False)[0]


class PatchEmbedding(nn.Module):
    """A Vision Transformer's input stage: image → tokens, class token, position embedding.

    ``conv_proj`` (kernel and stride ``patch_size``) turns each patch into a
    ``hidden_dim`` vector; the patches are read row by row as a sequence, a learnt
    ``class_token`` is put first (when there is one), a learnt ``pos_embedding`` is added
    and dropout applied, as torchvision's ``VisionTransformer._process_input`` followed by
    its class token and ``Encoder``'s position embedding and dropout.
    """

    def __init__(self, in_channels: int, hidden_dim: int, patch_size: int, num_patches: int,
                 class_token: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.hidden_dim = in_channels, hidden_dim
        self.patch_size, self.num_patches, self.dropout = patch_size, num_patches, dropout
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, stride=patch_size)
        tokens = num_patches + (1 if class_token else 0)
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim)) if class_token else None
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, hidden_dim).normal_(std=0.02))
        self.drop = nn.Dropout(dropout)
        fan_in = in_channels * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        if self.conv_proj.bias is not None:
            nn.init.zeros_(self.conv_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        """N×C×H×W images → N×(1 + patches)×hidden_dim tokens."""
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        if self.class_token is not None:
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.drop(x + self.pos_embedding)

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return f"num_patches={self.num_patches}, class_token={self.class_token is not None}"


class TokenSelect(nn.Module):
    """One token of a sequence: ``x[:, index]`` (N×L×… → N×…), e.g. ViT's class token."""

    def __init__(self, index: int = 0) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        """``x[:, index]``."""
        return x[:, self.index]

    def extra_repr(self) -> str:
        """Shown by ``print(model)``."""
        return f"index={self.index}"
