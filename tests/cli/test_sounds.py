"""`freepbx-callback sounds install`: where it installs by default and what it says when it cannot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freepbx_callback import prompts
from freepbx_callback.cli import cli

SHIPPED = {(p.parent.name, p.name) for p in prompts.shipped()}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["sounds", "install", *args])


def installed(folder: Path) -> set[tuple[str, str]]:
    return {(p.parent.name, p.name) for p in folder.glob("*/qcb-*.wav")}


def test_default_is_the_sounds_folder_of_asterisk_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's Asterisk 22: astdatadir => /usr/share/asterisk (its /var/lib/asterisk/sounds holds only
    custom/); FreePBX sets astdatadir => /var/lib/asterisk. The default follows asterisk.conf."""
    data = tmp_path / "data"
    conf = tmp_path / "asterisk.conf"
    conf.write_text(
        "[directories](!)\nastetcdir => /etc/asterisk\n"
        f"astdatadir => {data}\nastagidir => /usr/share/asterisk/agi-bin\n"
    )
    monkeypatch.setattr(prompts, "ASTERISK_CONF", conf)
    result = run()
    assert result.exit_code == 0, result.output
    assert installed(data / "sounds") == SHIPPED
    assert str(data / "sounds") in result.output


def test_default_without_asterisk_conf_is_debians_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(prompts, "ASTERISK_CONF", tmp_path / "missing.conf")
    assert prompts.default_sounds_dir() == Path("/usr/share/asterisk/sounds")
    help_text = CliRunner().invoke(cli, ["sounds", "install", "--help"]).output
    assert "/usr/share/asterisk/sounds" in help_text and "/var/lib/asterisk/sounds" not in help_text


@pytest.mark.parametrize("which", ["folder", "language"])
def test_a_dangling_link_is_one_line_and_exit_2(tmp_path: Path, which: str) -> None:
    sounds = tmp_path / "sounds"
    if which == "folder":
        sounds.symlink_to(tmp_path / "nowhere")
        broken = sounds
    else:
        sounds.mkdir()
        broken = sounds / "ru"  # e.g. an alternatives link whose sounds package was removed
        broken.symlink_to(tmp_path / "etc-alternatives-asterisk-prompt-ru")
    result = run("--dir", str(sounds))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and str(broken) in lines[0] and "Traceback" not in result.output
    assert "link" in lines[0]


def test_without_prompts_of_its_own_the_runtime_takes_its_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The FreePBX module's runtime is built from a wheel without the prompts (the tarball carries them once,
    in the module's sounds/): the runtime marker in the venv names the module's wheels/, beside sounds/."""
    module = tmp_path / "queuecallback"
    for lang, name in SHIPPED:
        (module / "sounds" / lang).mkdir(parents=True, exist_ok=True)
        (module / "sounds" / lang / name).write_bytes(f"{lang}/{name}".encode())
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / prompts.RUNTIME_MARKER).write_text(json.dumps({"wheels": str(module / "wheels")}))
    monkeypatch.setattr(prompts, "SOUNDS", tmp_path / "site-packages" / "freepbx_callback" / "sounds")
    monkeypatch.setattr(sys, "prefix", str(venv))
    result = run("--dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert installed(tmp_path / "out") == SHIPPED
    assert (tmp_path / "out" / "en" / "qcb-offer.wav").read_bytes() == b"en/qcb-offer.wav"


def test_no_prompts_anywhere_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "SOUNDS", tmp_path / "site-packages" / "freepbx_callback" / "sounds")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv-without-marker"))
    result = run("--dir", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: no prompts to install") and len(result.output.splitlines()) == 1
    assert not (tmp_path / "out").exists()
