"""Widgets of the live TUI, one module per region of a screen (status bar, search bar, event
list, detail tabs). Each widget declares the messages it sends."""
