"""The PHP side: `php -l` on every PHP file, and the PHPUnit suite (tests/module/php) on the harness."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .tools import HARNESS, cli_path, php_files

HERE = Path(__file__).resolve().parent

needs_php = pytest.mark.skipif(
    shutil.which("php") is None, reason="php-cli is not installed (apt-get install php-cli)"
)


@needs_php
@pytest.mark.parametrize("path", php_files(), ids=lambda p: str(p.relative_to(HERE.parents[1])))
def test_php_lint(path: Path) -> None:
    done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_php
@pytest.mark.skipif(
    shutil.which("phpunit") is None, reason="phpunit is not installed (apt-get install phpunit)"
)
def test_phpunit_suite(db_dsn: str, tmp_path: Path) -> None:
    junit = tmp_path / "phpunit.xml"
    env = dict(os.environ, QCB_DSN=db_dsn, QCB_CLI=cli_path(), QCB_HARNESS_DIR=str(tmp_path / "harness"))
    done = subprocess.run(
        ["phpunit", "--configuration", str(HERE / "phpunit.xml"), "--log-junit", str(junit)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=HERE,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    tests, failures, errors = (int(suite.get(k, "0")) for k in ("tests", "failures", "errors"))
    assert tests >= 20 and failures == 0 and errors == 0
    print(f"phpunit: {tests} tests, {suite.get('skipped', '0')} skipped")
    assert HARNESS.is_dir()
