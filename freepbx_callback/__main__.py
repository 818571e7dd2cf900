"""``python -m freepbx_callback``: the same command as ``freepbx-callback``."""

from .cli import main

main()
