"""Sample archives: the demo's traffic, and realistic input to try the commands on.

Installed as `debugger.samples` (see pyproject.toml), so `segdebug demo` finds them in a
regular install as well as in this repository.
"""
