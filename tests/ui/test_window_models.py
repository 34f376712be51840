"""The File menu's model commands, driven through the window's actions and dialogs.

Import a torchvision model through the dialog, see an unsupported model refused with the
list of what cannot be mapped, initialise a template from a weights file and undo it,
set up transfer learning in one step, export Python source. Question boxes and file
dialogs are answered by patched functions; weights come from randomly initialised
torchvision models saved under ``tmp_path`` (no download, no cache).
"""

from __future__ import annotations

import runpy
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
import torch
import torchvision
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QProgressDialog,
    QPushButton,
)
from pytestqt.qtbot import QtBot
from torch import Tensor, nn

from netbuilder.compiler import compile_graph
from netbuilder.core.document import Document
from netbuilder.templates import build_project
from netbuilder.templates import weights as weights_module
from netbuilder.ui.busy import JobCancelled, run_busy
from netbuilder.ui.import_dialog import PRESETS, ImportDialog
from netbuilder.ui.main_window import MainWindow

IMPORT_TIMEOUT_MS = 60_000


class PermuteNet(nn.Module):
    """A model that cannot be traced: its forward branches on a value (``x.sum() > 0``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        return x.permute(0, 2, 3, 1) if x.sum() > 0 else x


@pytest.fixture(autouse=True)
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Discard unsaved changes when asked; record every warning box instead of showing it."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, _title, text, *a, **k: shown.append(text))
    monkeypatch.setattr(weights_module, "find_cached_weights", lambda template: None)
    return shown


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:
    made: list[MainWindow] = []

    def make(document: Document | None = None) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(document, settings=settings, recovery_dir=tmp_path / "recovery",
                            user_blocks_dir=tmp_path / "blocks")
        window.models.imported_weights_dir = tmp_path / "imported"
        made.append(window)
        window.resize(1200, 800)
        with qtbot.waitExposed(window):
            window.show()
        return window

    yield make
    for window in made:
        if shiboken6.isValid(window):
            window.close()


def template_document(name: str = "resnet18") -> Document:
    project = build_project(name, input_shape=(3, 64, 64))
    return Document(project.graph, training=project.training, meta=project.meta)


@pytest.fixture
def resnet_window(make_window: Callable[..., MainWindow]) -> MainWindow:
    return make_window(template_document())


@pytest.fixture(scope="module")
def torchvision_resnet18(tmp_path_factory: pytest.TempPathFactory) -> tuple[nn.Module, Path]:
    """A randomly initialised torchvision ResNet-18 and its state_dict file."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(model.state_dict(), path)
    return model, path


def wait_for(predicate: Callable[[], object], timeout_ms: int = IMPORT_TIMEOUT_MS) -> None:
    """Process events until ``predicate()`` holds.

    Not ``qtbot.waitUntil``: its nested event loop returns at once for the rest of the
    session after a test has made the application quit (``test_run_gui_…``).
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        QApplication.processEvents()
        time.sleep(0.01)


def open_import_dialog(window: MainWindow) -> ImportDialog:
    window.act["import_model"].trigger()
    dialog = window.findChild(ImportDialog, "importDialog")
    assert dialog is not None and dialog.isVisible()
    return dialog


def type_into(qtbot: QtBot, field: object, text: str) -> None:
    field.setFocus()  # type: ignore[attr-defined]
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)


def same_outputs(a: nn.Module, b: nn.Module, shape: tuple[int, ...] = (2, 3, 64, 64)) -> bool:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return bool(torch.allclose(a.eval()(x), b.eval()(x), atol=1e-5))


def show_file_menu(window: MainWindow) -> None:
    """What opening the File menu does before it is drawn."""
    window.menus["file"].aboutToShow.emit()


# -- import ---------------------------------------------------------------------------------
@pytest.mark.slow  # traces and checks a full-size ResNet-18
def test_import_resnet18_through_the_dialog(qtbot: QtBot, make_window: Callable[..., MainWindow],
                                            tmp_path: Path) -> None:
    window = make_window()
    dialog = open_import_dialog(window)
    dialog.preset.setCurrentIndex(0)
    assert dialog.factory.text() == PRESETS[0].factory == "torchvision.models:resnet18"
    type_into(qtbot, dialog.shape, "3,64,64")
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.progress.isVisible() and not dialog.factory.isEnabled()
    wait_for(lambda: not shiboken6.isValid(dialog) or not dialog.running)
    assert not shiboken6.isValid(dialog) or dialog.failure is None, dialog.status.text()

    document = window.document
    assert document.meta["imported_from"] == "torchvision.models:resnet18"
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()  # closed and deleted
    assert not document.modified
    layer1 = document.graph.by_name("layer1")
    assert layer1.body is not None and {n.name for n in layer1.body.nodes.values()} >= {"0", "1"}
    for name in ("conv1", "bn1", "layer1", "fc"):
        assert window.view.graph_scene.node_item(document.graph.by_name(name).id) is not None
    assert "resnet18" in window.windowTitle()

    weights_file = Path(document.meta["weights"])
    assert weights_file.parent == tmp_path / "imported" and weights_file.is_file()
    conv1 = document.graph.by_name("conv1")
    assert conv1.init == {"scheme": "checkpoint", "file": str(weights_file), "key": "conv1"}
    original = torchvision.models.resnet18()
    original.load_state_dict(torch.load(weights_file, weights_only=True))
    assert same_outputs(compile_graph(document.graph), original)


def test_unsupported_model_lists_what_cannot_be_mapped(
        qtbot: QtBot, make_window: Callable[..., MainWindow], tmp_path: Path) -> None:
    window = make_window()
    before = window.document
    dialog = open_import_dialog(window)
    dialog.fill(f"{__name__}:PermuteNet", "3,8,8")
    assert dialog.preset.currentIndex() == len(PRESETS)  # "other model"
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    wait_for(lambda: dialog.failure is not None and dialog.failure.isVisible())

    assert dialog.failure is not None
    rows = dialog.failure.rows()
    assert any(name == "model" and kind.endswith("PermuteNet") and "traced" in reason
               for name, kind, reason in rows), rows
    assert "Traceback" not in dialog.failure.message.text()
    assert dialog.isVisible() and dialog.import_button.isEnabled()  # another try
    assert window.document is before
    assert not (tmp_path / "imported").exists() or not any((tmp_path / "imported").iterdir())
    dialog.failure.close()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()


def test_fields_are_checked_before_anything_runs(qtbot: QtBot,
                                                 make_window: Callable[..., MainWindow]) -> None:
    dialog = open_import_dialog(make_window())
    for factory, shape, kwargs, message in (
            ("resnet18", "3,64,64", "", "package.module:factory"),
            ("torchvision.models:resnet18", "3,six,64", "", "input shape"),
            ("torchvision.models:resnet18", "3,64,64", "num_classes=len('ab')", "literal"),
            ("torchvision.models:resnet18", "3,64,64", "10", "name=value")):
        dialog.fill(factory, shape, kwargs)
        assert not dialog.start_import()
        assert message in dialog.status.text() and not dialog.running
    dialog.fill("torchvision.models:googlenet", "3,64,64", "aux_logits=False, "
                "init_weights=False, transform_input=(False)")
    assert dialog.request().kwargs == {"aux_logits": False, "init_weights": False,
                                       "transform_input": False}
    assert dialog.preset.currentText() == "torchvision GoogLeNet"


def test_cancel_closes_the_dialog_while_importing(
        qtbot: QtBot, make_window: Callable[..., MainWindow], tmp_path: Path) -> None:
    window = make_window()
    before = window.document
    dialog = open_import_dialog(window)
    dialog.fill("torchvision.models:resnet18", "3,32,32")
    assert dialog.start_import()
    job = dialog.job
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not shiboken6.isValid(dialog) or not dialog.isVisible()
    assert job is not None and job.cancelled.is_set()
    wait_for(lambda: job.done)
    QApplication.processEvents()
    assert window.document is before
    assert not job.cancelled.is_set() or not any((tmp_path / "imported").glob("*.pt"))


# -- pretrained weights ---------------------------------------------------------------------
def test_initialise_from_a_weights_file_then_undo(
        resnet_window: MainWindow, make_window: Callable[..., MainWindow],
        torchvision_resnet18: tuple[nn.Module, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = torchvision_resnet18
    window = resnet_window
    action = window.act["init_pretrained"]
    show_file_menu(window)
    assert action.isEnabled()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    action.trigger()

    graph = window.document.graph
    conv1 = graph.by_name("conv1")
    assert conv1.init == {"scheme": "checkpoint", "file": str(path.resolve()), "key": "conv1"}
    assert same_outputs(compile_graph(graph), model)
    assert window.act["undo"].text() == f"&Undo Initialise from {path.name}"
    window.act["undo"].trigger()
    assert all(node.init is None for _level, node in graph.walk())
    assert not window.act["undo"].isEnabled()

    lenet = make_window()  # the LeNet-5 example: no torchvision weights
    show_file_menu(lenet)
    assert not lenet.act["init_pretrained"].isEnabled()


def test_weights_that_do_not_fit_are_reported(resnet_window: MainWindow, tmp_path: Path,
                                              warnings_shown: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(wrong), ""))
    resnet_window.act["init_pretrained"].trigger()
    assert len(warnings_shown) == 1 and "do not fit" in warnings_shown[0]
    assert not resnet_window.act["undo"].isEnabled()


# -- transfer learning ----------------------------------------------------------------------
def test_transfer_learning_is_one_undo_step(resnet_window: MainWindow,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (10, True))
    window = resnet_window
    window.act["transfer_learning"].trigger()

    module = compile_graph(window.document.graph)
    trainable = [name for name, p in module.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    assert module(torch.zeros(1, 3, 64, 64)).shape == (1, 10)
    assert window.act["undo"].text().startswith("&Undo Transfer learning: train fc")
    window.act["undo"].trigger()
    assert not window.act["undo"].isEnabled()
    module = compile_graph(window.document.graph)
    assert all(p.requires_grad for p in module.parameters())
    assert module(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


# -- Python source --------------------------------------------------------------------------
def test_export_python_source(resnet_window: MainWindow, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "resnet.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    resnet_window.act["export_source"].trigger()

    namespace = runpy.run_path(str(target))
    exported = namespace["ResNet18"]()
    compiled = compile_graph(resnet_window.document.graph)
    assert list(exported.state_dict()) == list(compiled.state_dict())
    exported.load_state_dict(compiled.state_dict())
    assert same_outputs(exported, compiled)



def test_refusals_are_shown_as_messages(make_window: Callable[..., MainWindow], tmp_path: Path,
                                        warnings_shown: list[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(Document())  # an empty network: nothing to compile, no head
    target = tmp_path / "empty.py"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (10, True))
    window.act["export_source"].trigger()
    window.act["transfer_learning"].trigger()
    assert len(warnings_shown) == 2 and not target.exists()
    assert "Traceback" not in "".join(warnings_shown)
    assert not window.act["undo"].isEnabled()
    show_file_menu(window)
    assert not window.act["init_pretrained"].isEnabled()

# -- long work ------------------------------------------------------------------------------
def test_long_work_shows_a_busy_dialog_that_cancels(
        qtbot: QtBot, make_window: Callable[..., MainWindow]) -> None:
    window = make_window()
    seen: list[bool] = []
    poll = QTimer(window)  # run_busy blocks this test: a timer looks out for its dialog
    poll.setInterval(10)

    def press_cancel_once_shown() -> None:
        dialog = window.findChild(QProgressDialog, "busyDialog")
        if dialog is None or not dialog.isVisible():
            return
        poll.stop()
        seen.append(True)
        qtbot.mouseClick(dialog.findChild(QPushButton, "busyCancel"), Qt.MouseButton.LeftButton)

    assert run_busy(window, "Quick…", lambda: 42) == 42
    assert window.findChild(QProgressDialog, "busyDialog") is None
    release = threading.Event()
    poll.timeout.connect(press_cancel_once_shown)
    poll.start()
    with pytest.raises(JobCancelled):
        run_busy(window, "Waiting…", lambda: release.wait(10), quick_ms=20)
    release.set()
    assert seen == [True]
    assert run_busy(window, "Sleeping…", lambda: time.sleep(0.2) or 7, quick_ms=1) == 7
