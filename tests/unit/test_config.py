"""Where the DSN comes from, and one-line errors when it cannot be found."""

from __future__ import annotations

from pathlib import Path

import pytest

from freepbx_callback.config import ConfigError, Dsn, parse_freepbx_conf, redact, resolve_dsn

FREEPBX_CONF = """<?php
$amp_conf['AMPDBUSER'] = 'freepbxuser';
$amp_conf['AMPDBPASS'] = 'p@ss:w/rd\\'x';
$amp_conf["AMPDBHOST"] = "localhost";
$amp_conf['AMPDBNAME'] = 'asterisk';
$amp_conf['AMPDBENGINE'] = 'mysql';
$amp_conf['datasource'] = ''; // comment
require_once('/var/www/html/admin/bootstrap.php');
?>
"""


def test_parse_freepbx_conf_without_running_php() -> None:
    conf = parse_freepbx_conf(FREEPBX_CONF)
    assert conf["AMPDBUSER"] == "freepbxuser"
    assert conf["AMPDBPASS"] == "p@ss:w/rd'x"
    assert conf["AMPDBHOST"] == "localhost" and conf["AMPDBNAME"] == "asterisk"


def test_order_flag_env_file(tmp_path: Path) -> None:
    conf = tmp_path / "freepbx.conf"
    conf.write_text(FREEPBX_CONF)
    env = {"QCB_DSN": "mysql://e:x@10.0.0.1:3307/envdb"}
    assert resolve_dsn("mysql://f:y@h/flagdb", env, conf).database == "flagdb"
    assert resolve_dsn(None, env, conf).database == "envdb"
    from_file = resolve_dsn(None, {}, conf)
    assert from_file == Dsn("freepbxuser", "p@ss:w/rd'x", "127.0.0.1", 3306, "asterisk")


def test_dsn_round_trip_with_special_characters() -> None:
    dsn = Dsn("u", "p@ss:w/rd", "127.0.0.1", 3307, "db")
    assert Dsn.parse(dsn.url()) == dsn
    assert "p@ss" not in redact(dsn.url())


@pytest.mark.parametrize("text", ["postgres://u@h/db", "mysql://u@h/", "mysql://u@h:notaport/db", "garbage"])
def test_bad_dsn(text: str) -> None:
    with pytest.raises(ConfigError, match="DSN"):
        resolve_dsn(text, {}, Path("/nonexistent"))


def test_nothing_configured_names_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_dsn(None, {}, tmp_path / "freepbx.conf")
    message = str(info.value)
    assert "--dsn" in message and "$QCB_DSN" in message and "freepbx.conf" in message and "\n" not in message


def test_unreadable_or_incomplete_conf(tmp_path: Path) -> None:
    conf = tmp_path / "freepbx.conf"
    conf.write_text("<?php $amp_conf['AMPDBUSER'] = 'x';")
    with pytest.raises(ConfigError, match="has no AMPDBPASS, AMPDBNAME"):
        resolve_dsn(None, {}, conf)
    conf.chmod(0)
    folder = tmp_path / "dir.conf"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_dsn(None, {}, folder)
