"""`postmeter`: the console command."""

from __future__ import annotations

import signal
import sys

import typer

from app.cli import admin, demo, insights, publish, run, sandbox
from app.core.config import ConfigError
from app.core.files import use_private_umask

cli = typer.Typer(
    name="postmeter",
    help="Schedule social posts and collect their real metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(admin.db_cli, name="db")
cli.add_typer(admin.workspace_cli, name="workspace")
cli.add_typer(admin.key_cli, name="key")
cli.add_typer(admin.keys_cli, name="keys")
cli.add_typer(insights.insights_cli, name="insights")
run.register(cli)
publish.register(cli)
sandbox.register(cli)
demo.register(cli)


def main() -> None:
    """Entry point: configuration errors end the process with one clear line."""
    use_private_umask()  # what the process creates (database, DBOS state, key) is 0600
    # Started as a background job of a non-interactive shell (`cmd &` in a script), a process
    # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: `postmeter
    # worker` could not be stopped with SIGINT (Ctrl-C) and shut down cleanly. Restore it.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli()
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)  # noqa: T201
        sys.exit(2)
