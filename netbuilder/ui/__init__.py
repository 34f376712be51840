"""The Qt editor: main window, canvas, palette, inspector and panels.

Only this package imports Qt (an import-linter contract enforces it).
"""
