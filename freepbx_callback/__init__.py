"""freepbx-callback: queue callback for FreePBX and plain Asterisk."""

__version__ = "0.1.0"
