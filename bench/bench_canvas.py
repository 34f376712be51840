"""Canvas speed on a ~500-node graph (the expanded ResNet-152), as figures and ratios.

Measured offscreen, in one run:

* **reference**: a repaint of the same view showing an empty scene (the grid only);
* **load**: layout + document + view + first paint of the whole flat graph;
* **repaint at 100 %** and **zoomed out** (the whole graph in view): median full
  viewport repaint, and the first repaint after a zoom change (every visible item's
  cache is redrawn);
* **edit**: one parameter change — the stem convolution's width (parameters change in
  the first blocks), and the input size (every shape in the network changes) — measured
  as command + re-analysis + refresh of the visible items + repaint; the refresh of the
  items off screen, which the scene defers to the next event-loop turn, is measured on
  its own line.

Targets (issue 4): load + layout + first paint < 1 s; full repaint < 16 ms at 100 % and
zoomed out; one parameter edit < 16 ms.

Imported networks (issue 15): ``--imported`` alone adds the largest torchvision
classifiers (:data:`LARGEST`: ViT-L/16, EfficientNet-V2-L, RegNet-Y-128GF, thousands of
nodes in hundreds of groups); ``--imported NAME ...`` the ones named. Each is imported
first (untimed, random weights, verification skipped), then timed: its load + layout +
first paint, and one parameter edit with re-analysis and repaint — the bias of the first
layer (the stem's convolution) and of the convolution or linear layer halfway through the
network, each toggled — as ratios to the same reference. Targets: < 1 s and < 16 ms.
Measured (2-core CPU, CPU ms, before → after the analysis reused unchanged group bodies):
edits in EfficientNet-V2-L 20.5 → 4.5 (stem) and 20.2 → 6.3 (middle), RegNet-Y-128GF
9.6 → 2.7 and 9.2 → 3.2, ViT-L/16 4.6 → 2.4 and 4.3 → 2.6; loads 21–64 ms.

Usage: ``python bench/bench_canvas.py [--repeats 30] [--blocks N] [--screenshots DIR]
[--imported [NAME ...]]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication

from netbuilder.core import commands
from netbuilder.core.document import Document
from netbuilder.core.graph import Graph
from netbuilder.core.layout import apply_layout
from netbuilder.ui.canvas import GraphView
from netbuilder.ui.canvas.view import MIN_SCALE

VIEW_SIZE = (1400, 900)
#: The largest torchvision classifiers, in nodes: what ``--imported`` alone times.
LARGEST = ("vit_l_16", "efficientnet_v2_l", "regnet_y_128gf")


Timing = tuple[float, float]


def timed(fn: Callable[[], object]) -> Timing:
    """Wall time and CPU time of one call of ``fn``, in milliseconds.

    CPU time (of this process) is reported beside wall time because it is not inflated
    when other processes compete for the cores of a shared machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def median_ms(fn: Callable[[], object], repeats: int) -> Timing:
    """Median wall and CPU time of ``fn`` in milliseconds."""
    runs = [timed(fn) for _ in range(repeats)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def flat_resnet152() -> Graph:
    """ResNet-152 with every group dissolved: one level of ~500 nodes, never laid out."""
    from netbuilder.templates import build_template

    graph = build_template("resnet152")
    while groups := [n.id for n in graph.nodes.values() if n.body is not None]:
        for group_id in groups:
            commands.ungroup(graph, group_id).redo()
    for node in graph.nodes.values():
        node.pos = (0.0, 0.0)
    return graph


def fallback_chain(blocks: int) -> Graph:
    """A conv/bn/relu chain with residual adds (when the templates are not available)."""
    from tests.ui.canvas_graphs import residual

    return residual(blocks, channels=64, layout=False)


def make_view(document: Document) -> GraphView:
    view = GraphView(document)
    view.set_dark(False)
    view.resize(*VIEW_SIZE)
    view.show()
    QApplication.processEvents()  # the window is exposed: repaints really paint
    return view


def repaint(view: GraphView) -> None:
    view.viewport().repaint()


def measure_reference(repeats: int) -> Timing:
    view = make_view(Document())
    repaint(view)
    value = median_ms(lambda: repaint(view), repeats)
    view.close()
    return value


def measure_load(graph: Graph) -> tuple[Timing, GraphView]:
    views: list[GraphView] = []

    def load() -> None:
        apply_layout(graph, deep=False)
        view = make_view(Document(graph))
        top = view.graph_scene.diagram_rect().top()
        view.centerOn(view.graph_scene.diagram_rect().center().x(), top + VIEW_SIZE[1] / 2)
        repaint(view)
        views.append(view)

    return timed(load), views[0]


def measure_zoom_change(view: GraphView, scale: float) -> Timing:
    """First repaint after a zoom change (caches redrawn), median over alternations."""
    runs = []
    for k in range(8):
        view.resetTransform()
        view.scale(scale * (1.0 + 0.01 * (k % 2)), scale * (1.0 + 0.01 * (k % 2)))
        runs.append(timed(lambda: repaint(view)))
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def measure_edit(view: GraphView, block: str, param: str, values: list[object],
                 repeats: int) -> Timing:
    """Median of: push one ``SetParams`` on the first ``block`` node, then repaint."""
    graph = view.current_graph
    node = next(n for n in graph.nodes.values() if n.type == block)
    document = view.document
    counter = iter(range(10**9))

    def edit() -> None:
        document.history.seal()
        value = values[next(counter) % len(values)]
        document.push(commands.set_param(graph, node.id, param, value))
        repaint(view)

    edit()
    return median_ms(edit, repeats)


def imported_graph(name: str) -> Graph:
    """The torchvision classifier ``name`` imported (no weights; outputs not compared)."""
    from netbuilder.compiler.importer import import_module
    from netbuilder.compiler.torchvision_zoo import build, weights_meta

    _meta, side = weights_meta(name)
    small = side if name.startswith(("vit_", "maxvit_")) else 64
    return import_module(build(name, side), (3, small, small), name=name, verify=False).graph


def measure_deep_edit(view: GraphView, repeats: int, where: float = 0.0) -> Timing:
    """Median of: toggle the bias of a convolution or linear layer at any depth, repaint.

    Args:
        view: The view of the network.
        repeats: How many edits to time.
        where: Which layer, as a fraction of all of them in walk order (0: the first).
    """
    layers = [(g, n) for g, n in view.document.graph.walk() if n.type in ("conv2d", "linear")]
    level, node = layers[int(where * (len(layers) - 1))]
    document = view.document
    counter = iter(range(10**9))

    def edit() -> None:
        document.history.seal()
        document.push(commands.set_param(level, node.id, "bias", next(counter) % 2 == 0))
        repaint(view)

    edit()
    return median_ms(edit, repeats)


def imported_rows(names: list[str], repeats: int) -> dict[str, Timing]:
    """Load and deep-edit timings of each imported network."""
    results: dict[str, Timing] = {}
    for name in names:
        graph = imported_graph(name)
        count = sum(1 for _ in graph.walk())
        load, view = measure_load(graph)
        results[f"{name} ({count} nodes): load + layout + paint"] = load
        results[f"{name}: edit stem + re-analysis + repaint"] = measure_deep_edit(
            view, repeats)
        results[f"{name}: edit middle layer + re-analysis + repaint"] = measure_deep_edit(
            view, repeats, 0.5)
        view.close()
    return results


def measure_deferred(view: GraphView, repeats: int) -> Timing:
    """The off-screen look refresh an input-size edit leaves for the next loop turn."""
    graph = view.current_graph
    node = next(n for n in graph.nodes.values() if n.type == "input")
    sizes = [(3, 192, 192), (3, 224, 224)]
    runs = []
    for k in range(repeats):
        view.document.history.seal()
        view.document.push(commands.set_param(graph, node.id, "shape", sizes[k % 2]))
        runs.append(timed(view.graph_scene.flush))
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def screenshots(folder: Path) -> None:
    """Save the LeNet-5 and residual screenshots in light and dark themes."""
    from tests.ui.canvas_graphs import lenet5, residual

    folder.mkdir(parents=True, exist_ok=True)
    for name, build in (("lenet5", lenet5), ("residual", lambda: residual(2))):
        for dark in (False, True):
            view = make_view(Document(build()))
            view.resize(1000, 820)
            view.set_dark(dark)
            view.resetTransform()
            rect = view.graph_scene.diagram_rect()
            view.centerOn(rect.center().x(), rect.top() + 400)
            theme = "dark" if dark else "light"
            view.grab().save(str(folder / f"canvas_{name}_{theme}.png"))
            view.fit()
            view.grab().save(str(folder / f"canvas_{name}_{theme}_fit.png"))
            view.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--blocks", type=int, default=0,
                        help="use a generated chain of N residual blocks instead")
    parser.add_argument("--screenshots", type=Path, default=None)
    parser.add_argument("--imported", nargs="*", default=None, metavar="NAME",
                        help="also time these torchvision classifiers, imported "
                             f"(none named: {', '.join(LARGEST)})")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    if args.screenshots:
        screenshots(args.screenshots)
    graph = fallback_chain(args.blocks) if args.blocks else flat_resnet152()
    reference = measure_reference(args.repeats)
    load, view = measure_load(graph)
    app.processEvents()
    results: dict[str, Timing] = {"load + layout + first paint": load}
    results["repaint at 100 %"] = median_ms(lambda: repaint(view), args.repeats)
    results["first repaint after zoom (100 %)"] = measure_zoom_change(view, 1.0)
    view.resetTransform()
    view.scale(0.3, 0.3)
    repaint(view)
    results["repaint at 30 % (boxes only)"] = median_ms(lambda: repaint(view), args.repeats)
    view.fit(MIN_SCALE)  # the whole graph, however small (Fit stops where names are readable)
    repaint(view)
    zoom = view.zoom
    results[f"repaint zoomed out ({zoom:.0%}, all visible)"] = median_ms(
        lambda: repaint(view), args.repeats)
    results["first repaint after zoom (zoomed out)"] = measure_zoom_change(view, zoom)
    view.resetTransform()
    view.centerOn(view.graph_scene.node_items()[1].scene_box().center())
    repaint(view)
    results["edit stem width + re-analysis + repaint"] = measure_edit(
        view, "conv2d", "out_channels", [32, 64], args.repeats)
    results["edit input size (every shape changes)"] = measure_edit(
        view, "input", "shape", [(3, 192, 192), (3, 224, 224)], args.repeats)
    results["  then: off-screen refresh, next loop turn"] = measure_deferred(
        view, args.repeats)
    if args.imported is not None:
        results.update(imported_rows(args.imported or list(LARGEST), args.repeats))
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges; "
          f"view {VIEW_SIZE[0]}×{VIEW_SIZE[1]}; median of {args.repeats}")
    width = max(46, *map(len, results))
    print(f"{'':{width}s} {'wall ms':>9s} {'ratio':>8s} {'cpu ms':>9s} {'ratio':>8s}")
    print(f"{'reference: repaint of an empty scene':{width}s} {reference[0]:9.2f} {'×1.0':>8s} "
          f"{reference[1]:9.2f} {'×1.0':>8s}")
    for name, (wall, cpu) in results.items():
        print(f"{name:{width}s} {wall:9.2f} {'×%.1f' % (wall / reference[0]):>8s} "
              f"{cpu:9.2f} {'×%.1f' % (cpu / max(reference[1], 1e-3)):>8s}")


if __name__ == "__main__":
    main()
