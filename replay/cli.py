"""`segdebug replay`: the Typer command (placeholder until the replay issue lands)."""

from __future__ import annotations

from typing import Annotated

import typer

from debugger.errors import CliError


def replay(
    archives: Annotated[list[str], typer.Argument(help="Archives: files, .gz, directories, -.")],
    to: Annotated[str, typer.Option(help="Target base URL or endpoint.")],
) -> None:
    """Resend archived events to any endpoint."""
    raise CliError("replay is not built yet", code=1)
