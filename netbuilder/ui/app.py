"""The Qt application: identity, icon, theme, high-DPI set-up and the GUI entry point.

``run_gui`` is what ``netbuilder`` (no arguments) and ``netbuilder gui FILE`` call. It
shows the main window before anything heavy is imported: torch is loaded only when a
feature needs it (compiling or training), never during start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from netbuilder.resources import resources_dir

APP_NAME = "NetBuilder"
ORG_NAME = "NetBuilder"
ORG_DOMAIN = "netbuilder.org"
DESKTOP_FILE = "netbuilder"

LIGHT, DARK = "light", "dark"


def app_icon() -> QIcon:
    """The application icon (from ``resources/icons/netbuilder.svg``)."""
    return QIcon(str(resources_dir() / "icons" / "netbuilder.svg"))


def app_settings() -> QSettings:
    """The user's settings store (window layout, recent files)."""
    return QSettings(ORG_NAME, APP_NAME)


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The ``QApplication`` (created once), named and themed for NetBuilder."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        configure(existing)
        return existing
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(list(argv if argv is not None else sys.argv[:1]))
    configure(app)
    return app


def configure(app: QApplication) -> None:
    """Give ``app`` NetBuilder's name, organisation, icon and theme (idempotent)."""
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setOrganizationDomain(ORG_DOMAIN)
    QGuiApplication.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
    if app.property("netbuilder_themed"):
        return
    app.setProperty("netbuilder_themed", True)
    app.aboutToQuit.connect(release_clipboard)
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None:
        app.setStyle(fusion)
    apply_theme(app)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_system(app))


def release_clipboard() -> None:
    """Drop clipboard data this process owns before Qt tears down.

    PySide6 6.11 segfaults at exit when a QMimeData set by the process is still on the
    clipboard; a copied fragment is only useful to NetBuilder windows, which are closing.
    """
    clipboard = QGuiApplication.clipboard()
    if clipboard is None:
        return
    headless = QGuiApplication.platformName() in ("offscreen", "minimal")
    if clipboard.ownsClipboard() or headless:
        clipboard.clear()


def _follow_system(app: QApplication) -> None:
    choice = app.property("netbuilder_theme_choice")
    apply_theme(app, choice if choice in (LIGHT, DARK) else None)


def choose_theme(app: QApplication, choice: str) -> str:
    """Use ``"light"``, ``"dark"`` or the ``"system"`` colours; return the scheme applied."""
    hints = app.styleHints()
    app.setProperty("netbuilder_theme_choice", choice)
    if choice in (LIGHT, DARK):
        hints.setColorScheme(Qt.ColorScheme.Dark if choice == DARK else Qt.ColorScheme.Light)
        return apply_theme(app, choice)
    hints.unsetColorScheme()
    return apply_theme(app)


def system_scheme() -> str:
    """``"dark"`` when the system asks for a dark colour scheme, else ``"light"``."""
    hints = QGuiApplication.styleHints()
    return DARK if hints.colorScheme() == Qt.ColorScheme.Dark else LIGHT


def apply_theme(app: QApplication, scheme: str | None = None) -> str:
    """Apply the light or dark theme (default: the system's); return which one."""
    scheme = scheme or system_scheme()
    app.setPalette(dark_palette() if scheme == DARK else light_palette())
    app.setStyleSheet(_STYLE_SHEET)
    app.setProperty("netbuilder_scheme", scheme)
    return scheme


def current_scheme() -> str:
    """The scheme the application is drawn in now."""
    app = QApplication.instance()
    value = app.property("netbuilder_scheme") if app is not None else None
    return value if value in (LIGHT, DARK) else LIGHT


def _palette(colors: dict[QPalette.ColorRole, str],
             disabled: dict[QPalette.ColorRole, str]) -> QPalette:
    palette = QPalette()
    for role, value in colors.items():
        palette.setColor(role, QColor(value))
    for role, value in disabled.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(value))
    return palette


R = QPalette.ColorRole


def light_palette() -> QPalette:
    """A calm light palette: off-white chrome, white editors, blue selection."""
    return _palette({
        R.Window: "#eef0f3", R.WindowText: "#1d2330", R.Base: "#ffffff",
        R.AlternateBase: "#f5f6f8", R.Text: "#1d2330", R.Button: "#f6f7f9",
        R.ButtonText: "#1d2330", R.BrightText: "#ffffff", R.Highlight: "#2f6fd0",
        R.HighlightedText: "#ffffff", R.ToolTipBase: "#ffffff", R.ToolTipText: "#1d2330",
        R.PlaceholderText: "#8a93a3", R.Link: "#2f6fd0", R.Mid: "#c5cad3",
        R.Midlight: "#e2e5ea", R.Dark: "#9aa1ad", R.Light: "#ffffff", R.Shadow: "#6b7280",
    }, {R.WindowText: "#9aa1ad", R.Text: "#9aa1ad", R.ButtonText: "#9aa1ad"})


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for long sessions."""
    return _palette({
        R.Window: "#25282e", R.WindowText: "#e3e6eb", R.Base: "#1b1d22",
        R.AlternateBase: "#22252b", R.Text: "#e3e6eb", R.Button: "#2d3138",
        R.ButtonText: "#e3e6eb", R.BrightText: "#ffffff", R.Highlight: "#3d7fe0",
        R.HighlightedText: "#ffffff", R.ToolTipBase: "#2d3138", R.ToolTipText: "#e3e6eb",
        R.PlaceholderText: "#7d8594", R.Link: "#6ea2f0", R.Mid: "#3a3f48",
        R.Midlight: "#353a42", R.Dark: "#15171b", R.Light: "#40454f", R.Shadow: "#0c0d10",
    }, {R.WindowText: "#6c7380", R.Text: "#6c7380", R.ButtonText: "#6c7380"})


# Only spacing and weights: every colour comes from the palette, so both themes share it.
_STYLE_SHEET = """
QDockWidget::title { padding: 5px 8px; font-weight: 600; }
QStatusBar QLabel, QStatusBar QToolButton { padding: 0px 8px; }
QToolBar { spacing: 2px; padding: 2px 4px; }
QToolButton { padding: 3px; }
QTreeView, QListView { outline: 0; }
QTreeView::item, QListView::item { padding: 2px 0px; }
QLabel[role="heading"] { font-weight: 600; padding-top: 6px; }
QLabel[role="error"] { color: #d64545; }
"""


def run_gui(path: str | None = None) -> int:
    """Open the editor (on ``path``, else on the LeNet-5 example) and run until it closes.

    Returns:
        The process exit status.
    """
    from netbuilder.ui.main_window import MainWindow

    app = create_application()
    window = MainWindow.launch(path)
    window.show()
    return app.exec()
