"""Exit statuses and the one-line error rule of every `minertrace` command.

The root command's group (`OneLineErrors`) runs the command line itself instead of letting
typer render its error panels: a usage error (unknown option, bad value, missing argument)
prints one `error:` line and exits 2; an interrupt exits 130; anything unexpected prints one
line naming the exception (the traceback goes to the log at DEBUG) and exits 1. Nothing the
user typed reaches rich markup unescaped, and registered database passwords are scrubbed.
See docs/errors.md.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup
from typer.exceptions import Abort

EXIT_OK = 0
EXIT_RUNTIME = 1
"""Something failed while running (database unreachable, migration or chain error)."""
EXIT_INPUT = 2
"""Usage or input error: a bad option, setting, file or value; nothing was changed."""
EXIT_LOCK_HELD = 3
"""Another minertrace process holds the lock this command needs (service, demo, downgrade)."""
EXIT_INTERRUPTED = 130
"""Stopped by a second Ctrl-C / SIGTERM before the current step finished (128 + SIGINT)."""

logger = logging.getLogger("minertrace.cli")
_err = Console(stderr=True, soft_wrap=True)


def error_line(message: str, code: int) -> NoReturn:
    """Print `message` as one escaped, password-free `error:` line and exit with `code`."""
    from minertrace.db.urls import scrub_registered

    text = " ".join(scrub_registered(message).split()) or "failed"
    _err.print(f"[red]error:[/red] {escape(text)}", highlight=False)
    sys.exit(code)


class OneLineErrors(TyperGroup):
    """A typer group whose errors are one line each, with the documented exit statuses."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            sys.exit(exc.exit_code)
        except UsageError as exc:
            where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
            error_line(f"{where}{exc.format_message()} (see --help)", EXIT_INPUT)
        except ClickException as exc:
            error_line(exc.format_message(), exc.exit_code or EXIT_RUNTIME)
        except (Abort, KeyboardInterrupt):
            error_line("interrupted", EXIT_INTERRUPTED)
        except Exception as exc:
            logger.debug("unexpected error", exc_info=True)
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            error_line(f"unexpected {type(exc).__name__}: {detail}", EXIT_RUNTIME)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


__all__ = [
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_LOCK_HELD",
    "EXIT_OK",
    "EXIT_RUNTIME",
    "OneLineErrors",
    "error_line",
]
