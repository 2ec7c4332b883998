"""``flask dev``: the whole service on a laptop, and ``flask mailcatcher``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from campaign.devmail.catcher import serve


@click.command("mailcatcher")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: MAIL_PORT.")
@with_appcontext
def mailcatcher_command(host: str, port: int | None) -> None:
    """Run the local SMTP mail catcher until interrupted."""
    folder = Path(current_app.config["DEV_MAIL_DIR"])
    port = port or current_app.config["MAIL_PORT"]
    controller = serve(folder, host, port)
    click.echo(f"mail catcher on {host}:{port}, saving to {folder}")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        controller.stop()


@click.command("dev")
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def dev_command(port: int) -> None:
    """Run web, worker, beat and the mail catcher together; Ctrl-C stops them all."""
    var_dir = Path(current_app.config["DEV_MAIL_DIR"]).parent
    bin_dir = Path(sys.executable).parent
    flask = [str(bin_dir / "flask"), "--app", "campaign"]
    celery = [str(bin_dir / "celery"), "-A", "worker"]
    commands = {
        "mail": [*flask, "mailcatcher"],
        "web": [*flask, "run", "--port", str(port), "--no-reload"],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [*celery, "beat", "--loglevel", "INFO", "-s", str(var_dir / "celerybeat-schedule")],
    }
    environment = os.environ.copy()
    # Links in the mail point at the port the web runs on, unless BASE_URL says else.
    environment.setdefault("BASE_URL", f"http://localhost:{port}")
    base_url = environment["BASE_URL"].rstrip("/")
    processes: dict[str, subprocess.Popen] = {}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, env=environment)  # noqa: S603
        click.secho(
            f"\n  Signup page:  {base_url}/\n  Mail catcher: {base_url}/dev/mail\n"
            "  Press Ctrl-C to stop everything.\n",
            fg="green",
        )
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise click.ClickException(f"{name} exited with {process.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("stopping...")
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
