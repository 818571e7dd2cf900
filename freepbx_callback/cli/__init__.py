"""The ``freepbx-callback`` command: parse, call the service, print text or ``--json``. Nothing else."""

from . import alerts, apikeys, backup, ops, queues, requests, serve  # noqa: F401 - registers the commands
from .base import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="freepbx-callback")
