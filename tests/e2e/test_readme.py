"""The README's "Plain Asterisk" section, run as written: from an empty MariaDB and a stock Asterisk 22 to a
callback.

Every ```sh block of that section runs, in order, in ONE bash session (`set -e`: a failing command fails
the test), the way an admin types them. What differs from a real host is explicit and minimal:

- text substitutions in the blocks (:data:`PATHS`, and the ports): the paths of this machine's Asterisk
  run folder and of a scratch root instead of /etc, /opt, /usr; every one must occur in the section, so the
  test fails when the section changes shape;
- ``mysql`` talks to a private, empty MariaDB server started for this test (root over its socket);
- stubs on PATH: ``apt-get`` checks that the packages are installed instead of installing them,
  ``chown`` skips the ``asterisk`` group the host may lack, ``asterisk -rx`` reaches the test Asterisk,
  ``systemctl`` only records what it was asked; the test then does it: ``restart asterisk`` restarts
  Asterisk with the environment of the drop-in's ``EnvironmentFile``, ``enable --now freepbx-callback``
  starts the unit's ``ExecStart`` with its ``EnvironmentFile`` (as root); every process gets a private
  journal folder (``QCB_SPOOL``) instead of the shared /var/spool/asterisk/qcb;
- Asterisk is the Debian sid root's Asterisk 22 with Debian's own /etc/asterisk; only asterisk.conf
  (the run folder's paths), modules.conf and logger.conf (the test bed's), manager.conf's port and
  pjsip.conf (the site's phones: the SIPp caller, the agent and the trunk) are the test bed's. Inside
  that root python3 cannot use the host's venv, so the AGI scripts import the same package staged on
  PYTHONPATH instead of handing over to the venv.

At the section's "first-call" marker a SIPp caller dials 400 in ``from-customers`` and presses 1; the
agent (SIPp) answers, and the customer (SIPp behind ``trunk``) answers the callback.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from freepbx_callback.ami import Ami, AmiConfig
from freepbx_callback.config import Dsn
from freepbx_callback.models import Status
from freepbx_callback.service import CallbackService
from freepbx_callback.store import Store
from tests.testbed.asterisk import PROJECT_ROOT, free_port
from tests.testbed.mariadb import _start_private
from tests.testbed.sipp import Uas, call_and_press, pjsip_peer
from tests.testbed.stock import (
    Shell,
    StockAsterisk,
    env_file,
    env_file_text,
    listening,
    make_stubs,
    site_transport_and_caller,
    unit_value,
)
from tests.testbed.wait import wait_for

README = PROJECT_ROOT / "README.md"
SECTION, NEXT_SECTION = "### Plain Asterisk", "### FreePBX"
CALL_MARKER = "<!-- readme-test: first-call -->"
INBOUND_CONTEXT = "from-customers"  # the README's example context that dials the queue


@dataclass
class Step:
    text: str
    call_before: bool


def readme_steps() -> list[Step]:
    text = README.read_text()
    assert text.count(SECTION) == 1 and NEXT_SECTION in text, "the README's sections changed"
    section = text[text.index(SECTION) : text.index(NEXT_SECTION, text.index(SECTION))]
    assert section.count(CALL_MARKER) == 1, f"the section must have one {CALL_MARKER}"
    steps: list[Step] = []
    lines = section.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            before = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
            end = lines.index("```", i + 1)
            steps.append(Step("\n".join(lines[i + 1 : end]) + "\n", before == CALL_MARKER))
            i = end + 1
        else:
            i += 1
    assert steps, "no ```sh block in the Plain Asterisk section"
    assert sum(s.call_before for s in steps) == 1, f"{CALL_MARKER} must stand right before a ```sh block"
    return steps


def wait_done(service: CallbackService, request_id: int, serve_log: Path) -> None:
    wait_for(
        lambda: service.get(request_id).status is Status.DONE,
        90,
        message=f"the callback done (serve's log: {serve_log})",
    )


# ------------------------------------------------------------------------------------------- the test


def test_the_plain_asterisk_section_as_written(asterisk_root: Path, tmp_path: Path) -> None:
    steps = readme_steps()
    scratch = tmp_path / "host"
    for folder in ("opt", "bin", "default", "systemd", "cron.d", "spool", "shell"):
        (scratch / folder).mkdir(parents=True)
    fastagi_port = free_port()
    db = _start_private()
    serve: subprocess.Popen[bytes] | None = None
    shell: Shell | None = None
    bed = StockAsterisk(asterisk_root, caller_context=INBOUND_CONTEXT, python=False)
    agent = Uas(bed, "answer", ring_s=0.5)
    customer = Uas(bed, "answer", ring_s=0.5, hangup_after_s=8)
    try:
        bed.site_pjsip = (
            site_transport_and_caller(bed.sip_port, INBOUND_CONTEXT)
            + pjsip_peer("agent", agent.port, INBOUND_CONTEXT)
            + pjsip_peer("trunk", customer.port, INBOUND_CONTEXT)
        )
        bed.start()
        substitutions = [
            ("/etc/asterisk", str(bed.etc)),
            ("/usr/share/asterisk/agi-bin", str(bed.agi_dir)),
            ("/usr/share/asterisk/sounds", str(bed.run_dir / "data" / "sounds")),
            ("/opt/freepbx-callback", str(scratch / "opt" / "freepbx-callback")),
            ("/usr/local/bin", str(scratch / "bin")),
            ("/etc/default/freepbx-callback", str(scratch / "default" / "freepbx-callback")),
            ("/etc/systemd/system", str(scratch / "systemd")),
            ("/etc/cron.d", str(scratch / "cron.d")),
            ("127.0.0.1:3306", f"127.0.0.1:{db.admin.port}"),
            ("127.0.0.1:5038", f"127.0.0.1:{bed.ami_port}"),
            ("127.0.0.1:4577", f"127.0.0.1:{fastagi_port}"),
        ]
        joined = "".join(step.text for step in steps)
        for literal, _ in substitutions:
            assert literal in joined, f"the README's commands no longer mention {literal}: update this test"

        def substitute(text: str) -> str:
            # Longest first, so that /etc/default/freepbx-callback is not cut by a shorter literal.
            for literal, value in sorted(substitutions, key=lambda s: -len(s[0])):
                text = text.replace(literal, value)
            return text

        systemctl_log = scratch / "systemctl.log"
        systemctl_log.touch()
        make_stubs(scratch / "stubs", bed, db, systemctl_log)
        checkout = scratch / "checkout"
        shutil.copytree(
            PROJECT_ROOT,
            checkout,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "test-artifacts", "build", "dist", "*.egg-info", "__pycache__", ".ruff_cache"
            ),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QCB_", "VIRTUAL_ENV", "PYTHON"))}
        env["PATH"] = f"{scratch / 'stubs'}:{scratch / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["QCB_SPOOL"] = str(scratch / "spool")
        env["QCB_HTTP"] = "127.0.0.1:0"  # serve's HTTP API on a free port: test runs side by side
        shell = Shell(checkout, env, scratch / "shell")
        handled = 0
        outputs: list[str] = []
        for index, step in enumerate(steps):
            if step.call_before:
                # The README's first call: its caller presses 1 while the agent is paused (the step before).
                agent.start()
                customer.start()
                dsn = Dsn.parse(env_file(scratch / "default" / "freepbx-callback")["QCB_DSN"])
                service = CallbackService(Store.connect(dsn))
                call = call_and_press(bed, "400", dtmf_after_s=4, hold_s=30, caller_id="2015551234")
                assert call.bye_received, call.summary()
                [request] = wait_for(service.list, 20, message="the request stored")
                assert request.status is Status.PENDING and agent.invites() == []
            outputs.append(shell.run(index, substitute(step.text)))
            asked = systemctl_log.read_text().splitlines()
            for command in asked[handled:]:
                if command == "daemon-reload":
                    continue
                if command == "restart asterisk":
                    [dropin] = (scratch / "systemd" / "asterisk.service.d").glob("*.conf")
                    path = unit_value(dropin.read_text(), "EnvironmentFile").lstrip("-")
                    # The journal folder in the run folder, not the root's shared /var/spool/asterisk/qcb.
                    bed.boot({**env_file(Path(path)), "QCB_SPOOL": str(bed.spool_dir / "qcb")})
                elif command == "enable --now freepbx-callback":
                    unit = substitute((scratch / "systemd" / "freepbx-callback.service").read_text())
                    assert "--port 4577" in unit
                    unit = unit.replace("--port 4577", f"--port {fastagi_port}")
                    settings = env_file(Path(unit_value(unit, "EnvironmentFile").lstrip("-")))
                    serve = subprocess.Popen(
                        shlex.split(unit_value(unit, "ExecStart")),
                        env={**env, **settings},
                        stdout=subprocess.DEVNULL,
                        stderr=(scratch / "serve.log").open("wb"),
                    )
                    wait_for(lambda: listening(fastagi_port), 20, message="serve's FastAGI listening")
                else:
                    raise AssertionError(f"the README asks systemctl for {command!r}: teach this test")
            handled = len(asked)
            if step.call_before:  # the agent is free again: the callback
                wait_done(service, request.id, scratch / "serve.log")
                [agent_invite] = agent.invites()
                assert "2015551234" in (agent_invite.header("From") or ""), "the agent sees the customer"
                [customer_invite] = customer.invites()
                assert "5551000" in (customer_invite.header("From") or ""), "the customer sees the DID"
                assert customer_invite.first_line.startswith("INVITE sip:2015551234@")
        assert serve is not None and serve.poll() is None, "the README's steps started serve"
        listing = outputs[-1]
        assert "2015551234" in listing and "done" in listing and "FAIL" not in listing, listing
        # Step 8: with serve down, the agi-bin scripts store a request themselves: Asterisk sees QCB_DSN
        # (without it the request would wait in the journal, and nothing replays it while serve is down).
        assert serve is not None
        serve.terminate()
        serve.wait(timeout=15)
        bed.ami_action({"Action": "QueuePause", "Interface": "PJSIP/agent", "Paused": "true"})
        call = call_and_press(bed, "400", dtmf_after_s=4, hold_s=30, caller_id="2015551235")
        assert call.bye_received, call.summary()
        service = CallbackService(
            Store.connect(Dsn.parse(env_file(scratch / "default" / "freepbx-callback")["QCB_DSN"]))
        )
        wait_for(
            lambda: [r for r in service.list() if r.number.endswith("2015551235")],
            20,
            message="the agi-bin script stored the request",
        )
        log = bed.log_text()
        assert "qcb-request.agi" in log
        # Step 7: the prompts come from the installed sounds (a missing one is a WARNING in Asterisk's log).
        assert "Playing 'qcb-" in log, "no prompt of the project was played"
        assert not [line for line in bed.warnings() if "qcb-" in line], bed.warnings()
        # Step 9's cron line works with the settings the README put into it.
        cron = (scratch / "cron.d" / "freepbx-callback").read_text()
        cron_env = {k: v for k, v in env_file_text(cron).items() if k.startswith("QCB_")}
        [job] = [line for line in cron.splitlines() if line.startswith("* * * * * ")]
        command = substitute(job.split(None, 6)[6])
        done = subprocess.run(
            ["bash", "-c", command], env={**env, **cron_env}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        # The README's manager user may send every action the dialer sends.
        settings = env_file(scratch / "default" / "freepbx-callback")
        ami = Ami(AmiConfig.parse(settings["QCB_AMI"]))
        try:
            for action in (
                [("Action", "QueueSummary"), ("Queue", "400")],
                [("Action", "QueueStatus"), ("Queue", "400")],
                [("Action", "Getvar"), ("Channel", "PJSIP/none-1"), ("Variable", "X")],
                [("Action", "Hangup"), ("Channel", "PJSIP/none-1")],
                [("Action", "CoreShowChannels")],
                [("Action", "Events"), ("EventMask", "agent,call")],
            ):
                reply = ami.action(action)[0]
                assert "permission denied" not in reply.get("Message", "").lower(), (action, reply)
            # As the README says: nothing beyond that (the event Filter needs write `system`).
            reply = ami.action([("Action", "Filter"), ("Operation", "Add"), ("Filter", "Event: Hangup")])[0]
            assert "permission denied" in reply.get("Message", "").lower(), reply
        finally:
            ami.close()
    finally:
        if shell is not None:
            shell.close()
        if serve is not None and serve.poll() is None:
            serve.terminate()
            serve.wait(timeout=15)
        agent.stop()
        customer.stop()
        bed.stop()
        db.stop()
    bed.remove_run_dir()


@pytest.mark.parametrize("literal", [CALL_MARKER, "```sh"])
def test_the_section_keeps_its_markers(literal: str) -> None:
    text = README.read_text()
    section = text[text.index(SECTION) : text.index(NEXT_SECTION)]
    assert literal in section
