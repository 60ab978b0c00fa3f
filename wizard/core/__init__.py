"""The UI-free core: the CLI, the TUI and the tests all call it.

It returns data and reports progress through event dataclasses; it never prints,
never exits the process and never imports textual or rich.
"""
