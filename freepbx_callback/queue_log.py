"""Callback events into Asterisk's own queue_log, so queue reporting tools count callbacks.

The dialer writes them with the AMI action ``QueueLog`` on the connection it already has: Asterisk
writes each line in its own format, to wherever its queue_log goes (the file, or a database through
realtime). Lines and their fields are defined in :mod:`freepbx_callback.reports`.

Every event row is written at most once, by whichever dialer takes it first (a conditional update in
the database, so a restarted ``serve``, a cron ``dial`` and a second node never write it twice). An event
taken while AMI was down before anything was sent is given back for the next tick; a line Asterisk
refused, or whose answer never came, is not written again (a missing line is better than a call counted
twice). A request stored by the AGI handler (which has no AMI) is written by the first tick that sees it.
Nothing here runs before the tick's calls are placed, and a failure only ever costs lines.
"""

from __future__ import annotations

import logging

from .ami import Ami, AmiError, AmiUnavailable
from .reports import queue_log_line
from .service import CallbackService

log = logging.getLogger(__name__)
BATCH = 200  # events read per query; a tick writes every waiting one


def write_queue_log(service: CallbackService, ami: Ami, batch: int = BATCH) -> int:
    """Write every waiting event's queue_log line; the number of lines Asterisk took.
    AmiUnavailable is raised (the events not yet sent stay waiting)."""
    written = 0
    while True:
        rows = service.queue_log_pending(batch)
        for row in rows:
            if not service.take_for_queue_log(row.event_id):
                continue  # another dialer took it
            line = queue_log_line(row)
            if line is None:
                continue
            sent = ami.sent
            try:
                ami.queue_log(line.queue, line.event, line.uniqueid, line.interface, line.message)
                written += 1
            except AmiUnavailable:
                if ami.sent == sent:  # nothing reached Asterisk: the next tick writes it
                    service.give_back_to_queue_log(row.event_id)
                raise
            except AmiError as exc:
                log.warning("queue_log: request %s %s not written: %s", row.request_id, line.event, exc)
        if len(rows) < batch:
            return written
