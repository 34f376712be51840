"""Pre-flight check: overfit one batch, and say in plain words what looks wrong per node.

A healthy network memorises one small batch quickly: in 50 steps of Adam its loss drops
by 90 % or more. While it tries, every block's output is watched (its scale, and for
activations the share of outputs that are exactly 0) and after the last step each node's
gradient norm is read. The findings are sentences shown at the node, e.g.
``act2: 97 % of outputs are 0 after 50 steps: the learning rate may be too high``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from netbuilder.compiler import GraphModule, compile_graph
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.graph import Graph
from netbuilder.training.errors import TrainingError

#: Loss drop a healthy network reaches when overfitting one batch.
HEALTHY_DROP = 0.9
DEAD_SHARE = 0.9
VANISHING_GRAD = 1e-7
EXPLODING_GRAD = 1e3
#: Activation blocks whose zero outputs count as dead units.
RECTIFIERS = frozenset({"relu", "relu6", "leaky_relu", "hardswish"})


class PreflightError(TrainingError):
    """The check could not run (a graph with errors, or one that is not trainable)."""


@dataclass
class NodeHealth:
    """What one node looked like at the last step.

    Attributes:
        node: Node id.
        grad_norm: L2 norm of its parameters' gradients (None without parameters).
        zero_share: Share of its outputs that are exactly 0.
        scale: Standard deviation of its outputs.
        findings: Plain-words problems, each naming the node.
    """

    node: str
    grad_norm: float | None = None
    zero_share: float = 0.0
    scale: float = 0.0
    findings: list[str] = field(default_factory=list)


@dataclass
class PreflightReport:
    """The outcome of a pre-flight check.

    Attributes:
        steps: Optimiser steps taken.
        losses: Loss before each step.
        nodes: Per leaf node.
        findings: Graph-wide problems (the loss did not drop).
    """

    steps: int
    losses: list[float] = field(default_factory=list)
    nodes: dict[str, NodeHealth] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    @property
    def drop(self) -> float:
        """Fraction by which the loss fell from the first step to the last."""
        first, last = self.losses[0], self.losses[-1]
        return 1 - last / first if first > 0 and math.isfinite(last) else 0.0

    @property
    def healthy(self) -> bool:
        """Whether the loss fell by 90 % and no node has a finding."""
        return not self.findings and not any(n.findings for n in self.nodes.values())

    def messages(self) -> list[str]:
        """Every finding, graph-wide first."""
        return [*self.findings, *(f for n in self.nodes.values() for f in n.findings)]


@contextmanager
def _watch(module: GraphModule, report: PreflightReport) -> Iterator[None]:
    """Record each leaf block's output scale and zero share on every forward pass."""
    handles = []
    for node_id, qualified in module.node_modules().items():
        sub = module.get_submodule(qualified)
        if isinstance(sub, GraphModule):
            continue
        health = report.nodes.setdefault(node_id, NodeHealth(node_id))

        def record(mod: nn.Module, args: Any, out: Any, health: NodeHealth = health) -> None:
            if isinstance(out, torch.Tensor) and out.numel():
                detached = out.detach().float()
                health.zero_share = float((detached == 0).float().mean())
                health.scale = float(detached.std()) if detached.numel() > 1 else 0.0

        handles.append(sub.register_forward_hook(record))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if out.dim() == 2:
        return nn.functional.cross_entropy(out, target)
    return nn.functional.mse_loss(out, target)


def _target(out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    if out.dim() == 2:
        return torch.randint(out.shape[1], (out.shape[0],), generator=generator)
    return torch.randn(out.shape, generator=generator)


def preflight(graph: Graph, *, batch: int = 16, steps: int = 50, lr: float = 1e-3,
              seed: int = 0, analysis: Analysis | None = None) -> PreflightReport:
    """Overfit one random batch for ``steps`` Adam steps and report per node.

    Raises:
        PreflightError: when the graph has errors, nothing in it trains, or it has
            several outputs.
    """
    analysis = analysis or analyze(graph)
    if not analysis.trainable:
        raise PreflightError("the graph cannot train (fix its errors first)")
    generator = torch.Generator().manual_seed(seed)
    module = compile_graph(graph, analysis=analysis, seed=seed).train()
    inputs = [torch.randn(batch, *s, generator=generator) for s in module.input_shapes]
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    report = PreflightReport(steps)
    target: torch.Tensor | None = None
    with _watch(module, report):
        for _ in range(steps):
            out = module(*inputs)
            if isinstance(out, tuple):
                raise PreflightError("the pre-flight check needs a single output")
            target = _target(out, generator) if target is None else target
            loss = _loss(out, target)
            report.losses.append(float(loss.detach()))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            _grad_norms(module, report)
            optimizer.step()
    _judge(graph, report)
    return report


def _grad_norms(module: GraphModule, report: PreflightReport) -> None:
    for node_id, qualified in module.node_modules().items():
        health = report.nodes.get(node_id)
        if health is None:
            continue
        grads = [p.grad for p in module.get_submodule(qualified).parameters()
                 if p.grad is not None]
        health.grad_norm = float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))) if grads else None


def _judge(graph: Graph, report: PreflightReport) -> None:
    """Turn the numbers into sentences."""
    steps = report.steps
    memorised = report.losses[-1] < 1e-3 * report.losses[0]  # no gradient left: done
    if report.drop < HEALTHY_DROP:
        report.findings.append(
            f"the loss fell {report.drop:.0%} in {steps} steps on one batch (a healthy "
            f"network memorises it: 90 % or more); check the learning rate, the "
            f"normalisation and that nothing blocks the gradient")
    for node_id, health in report.nodes.items():
        _, node = graph.find(node_id)
        name = node.name
        if node.type in RECTIFIERS and health.zero_share >= DEAD_SHARE:
            health.findings.append(
                f"{name}: {health.zero_share:.0%} of outputs are 0 after {steps} steps: "
                f"the learning rate may be too high, or a bias pushes them negative")
        if health.grad_norm is not None and not node.frozen:
            if health.grad_norm < VANISHING_GRAD and not memorised:
                health.findings.append(
                    f"{name}: gradient norm {health.grad_norm:.1e}: it barely learns "
                    f"(vanishing gradient; add normalisation or a shortcut)")
            elif not math.isfinite(health.grad_norm) or health.grad_norm > EXPLODING_GRAD:
                health.findings.append(
                    f"{name}: gradient norm {health.grad_norm:.1e}: exploding gradient "
                    f"(lower the learning rate or add normalisation)")
        if not math.isfinite(health.scale) or health.scale > 1e3:
            health.findings.append(f"{name}: outputs spread {health.scale:.1e} wide: "
                                   f"activations blow up (add normalisation)")
