"""module.xml checks: names, version and the <database> tables against the schema `db migrate` builds."""

from __future__ import annotations

import importlib.util
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from freepbx_callback import __version__
from freepbx_callback.config import Dsn

from .schema_compare import (
    FOREIGN_KEYS,
    MODULE_DIR,
    MODULE_XML,
    connect,
    doctrine_create_statements,
    live_schema,
    module_xml_schema,
    without_exceptions,
)
from .tools import cli_command

REPO = Path(__file__).resolve().parents[2]


def packaging() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qcb_package", REPO / "packaging" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def xml() -> ET.Element:
    return ET.parse(MODULE_XML).getroot()


def test_rawname_is_the_packaged_folder_and_the_class_name(xml: ET.Element) -> None:
    rawname = xml.findtext("rawname")
    assert rawname == "queuecallback"
    assert rawname == packaging().MODULE_FOLDER
    # FreePBX loads class ucfirst(strtolower(rawname)) from <Class>.class.php (BMO/Modules.class.php).
    assert (MODULE_DIR / f"{rawname.lower().capitalize()}.class.php").is_file()
    for page in xml.find("menuitems") or []:
        assert (MODULE_DIR / f"page.{page.tag}.php").is_file()


def test_version_is_the_python_version(xml: ET.Element) -> None:
    assert xml.findtext("version") == __version__


def test_declared_hooks_exist_in_the_class(xml: ET.Element) -> None:
    source = (MODULE_DIR / "Queuecallback.class.php").read_text()
    methods = [m.text for m in xml.iterfind("./hooks//method")]
    assert methods == ["queuesTab"]
    for method in methods:
        assert f"function {method}(" in source


def test_depends_and_category(xml: ET.Element) -> None:
    depends = xml.find("depends")
    assert depends is not None
    assert {m.text for m in depends.iterfind("module")} == {"core", "queues"}
    assert (depends.findtext("engine") or "").startswith("asterisk")
    assert xml.findtext("category") == "Applications"


def test_database_tables_match_the_migrated_schema(dsn: Dsn) -> None:
    declared = module_xml_schema()
    live, raw, fks = live_schema(dsn)
    assert set(declared) == set(live), "tables differ between module.xml and db migrate"
    comparable = without_exceptions(live)
    for table in declared:
        assert declared[table]["columns"] == comparable[table]["columns"], f"columns of {table}"
        assert declared[table]["indexes"] == comparable[table]["indexes"], f"indexes of {table}"
    # What module.xml leaves to `db migrate`, pinned so a change on either side shows up here.
    assert fks == FOREIGN_KEYS
    open_flag = raw[("qcb_requests", "open_flag")]
    assert "generated" in open_flag["extra"].lower() and "status" in open_flag["generation"]
    number_key = raw[("qcb_requests", "number_key")]
    assert "generated" in number_key["extra"].lower() and "e164" in number_key["generation"]
    assert live["qcb_requests"]["indexes"]["uq_open_number"] == (True, ("queue", "number_key", "open_flag"))
    datetimes = {k: v["precision"] for k, v in raw.items() if v["type"].startswith("datetime")}
    assert datetimes and set(datetimes.values()) == {3}


def test_every_foreign_key_has_a_declared_index_of_exactly_its_columns() -> None:
    """FreePBX's table step (Doctrine DBAL) reads a foreign key whose columns are not exactly some index's
    columns as needing an implicit index IDX_<hash>, then drops that index, which does not exist: a reinstall
    failed with "Can't DROP INDEX IDX_...". module.xml must declare such an index for each foreign key."""
    declared = module_xml_schema()
    for table, name, columns, *_ in sorted(FOREIGN_KEYS):
        exact = [i for i, (_, cols) in declared[table]["indexes"].items() if cols == columns]
        assert exact, f"{table}.{name} on {columns}: no index in module.xml with exactly those columns"


def _migrate(db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), "--dsn", db_url, "db", "migrate"], capture_output=True, text=True, timeout=120
    )


def test_freepbx_install_order_yields_the_migrated_schema(mariadb, dsn: Dsn) -> None:  # noqa: ANN001
    """Play `fwconsole ma install`: module.xml tables first, then install() → `db migrate`."""
    reference, _, reference_fks = live_schema(dsn)
    fresh = mariadb.create_database()
    try:
        conn = connect(fresh)
        try:
            for statement in doctrine_create_statements(module_xml_schema()):
                conn.cursor().execute(statement)
        finally:
            conn.close()
        result = _migrate(fresh.url())
        assert result.returncode == 0, result.stderr
        got, raw, fks = live_schema(fresh)
        assert got == reference
        assert fks == reference_fks
        assert {v["precision"] for v in raw.values() if v["type"].startswith("datetime")} == {3}
    finally:
        mariadb.drop_database(fresh.database)
