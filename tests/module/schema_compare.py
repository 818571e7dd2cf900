"""Read module.xml's <database> and a live MariaDB schema into one comparable shape.

module.xml uses FreePBX's Doctrine notation (framework BMO/Database.class.php migrateXML: <field> attributes
become Doctrine column options, <key type="index|unique"> become indexes). The live side is read from
information_schema. Both become {table: {"columns": {name: Column}, "indexes": {name: (unique, cols)}}}.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import MySQLdb

from freepbx_callback.config import Dsn

MODULE_DIR = Path(__file__).resolve().parents[2] / "module_xml"
MODULE_XML = MODULE_DIR / "module.xml"

# What FreePBX's <database> step cannot express; `freepbx-callback db migrate` (run by install()) adds it.
NOT_IN_MODULE_XML_COLUMNS = {("qcb_requests", "open_flag"), ("qcb_requests", "number_key")}
NOT_IN_MODULE_XML_INDEXES = {("qcb_requests", "uq_open_number")}
FOREIGN_KEYS = {
    ("qcb_attempts", "fk_attempt_request", ("request_id",), "qcb_requests", ("id",), "CASCADE"),
    ("qcb_events", "fk_event_request", ("request_id",), "qcb_requests", ("id",), "CASCADE"),
}


@dataclass(frozen=True)
class Column:
    type: str  # MariaDB base type: int, bigint, tinyint(1), varchar(32), char(2), text, datetime
    nullable: bool
    default: str | None
    autoincrement: bool


Schema = dict[str, dict[str, Any]]


def _bool(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def doctrine_to_mariadb(attrs: dict[str, str]) -> str:
    kind = attrs["type"]
    if kind == "integer":
        return "int"
    if kind == "bigint":
        return "bigint"
    if kind == "smallint":
        return "smallint"
    if kind == "boolean":
        return "tinyint(1)"
    if kind == "string":
        length = int(attrs.get("length", "255"))
        return f"{'char' if _bool(attrs.get('fixed'), False) else 'varchar'}({length})"
    if kind == "text":
        length = int(attrs.get("length", "0") or 0)
        if 0 < length <= 255:
            return "tinytext"
        if 0 < length <= 65535:
            return "text"
        if 0 < length <= 16777215:
            return "mediumtext"
        return "longtext"
    if kind in ("datetime", "date"):
        return kind
    raise ValueError(f"type {kind!r} is not mapped; add it to doctrine_to_mariadb")


def module_xml_schema(path: Path = MODULE_XML) -> Schema:
    root = ET.parse(path).getroot()
    schema: Schema = {}
    for table in root.iterfind("./database/table"):
        columns: dict[str, Column] = {}
        indexes: dict[str, tuple[bool, tuple[str, ...]]] = {}
        primary: list[str] = []
        for field in table.iterfind("field"):
            attrs = dict(field.attrib)
            name = attrs["name"]
            if _bool(attrs.get("primaryKey"), False):
                primary.append(name)
            columns[name] = Column(
                type=doctrine_to_mariadb(attrs),
                nullable=not _bool(attrs.get("notnull"), True) and name not in primary,
                default=attrs.get("default"),
                autoincrement=_bool(attrs.get("autoincrement"), False),
            )
        for key in table.iterfind("key"):
            kind = key.attrib["type"]
            assert kind in ("index", "unique"), f"{table.attrib['name']}.{key.attrib['name']}: {kind}"
            cols = tuple(c.attrib["name"] for c in key.iterfind("column"))
            indexes[key.attrib["name"]] = (kind == "unique", cols)
        if primary:
            indexes["PRIMARY"] = (True, tuple(primary))
        schema[table.attrib["name"]] = {"columns": columns, "indexes": indexes}
    return schema


def _normalise_type(column_type: str) -> str:
    column_type = column_type.lower()
    if column_type == "tinyint(1)":
        return column_type
    column_type = re.sub(r"^(tinyint|smallint|int|bigint)\(\d+\)", r"\1", column_type)
    return re.sub(r"^datetime\(\d\)", "datetime", column_type)


def _normalise_default(value: str | None) -> str | None:
    if value is None or value == "NULL":
        return None
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def connect(dsn: Dsn) -> MySQLdb.Connection:
    return MySQLdb.connect(
        host=dsn.host, port=dsn.port, user=dsn.user, password=dsn.password, database=dsn.database
    )


def live_schema(dsn: Dsn) -> tuple[Schema, dict[tuple[str, str], dict[str, Any]], set[tuple[Any, ...]]]:
    """(comparable schema, raw column facts by (table, column), foreign keys)."""
    conn = connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,"
            " GENERATION_EXPRESSION, DATETIME_PRECISION FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'qcb\\_%'"
            " ORDER BY TABLE_NAME, ORDINAL_POSITION"
        )
        schema: Schema = {}
        raw: dict[tuple[str, str], dict[str, Any]] = {}
        for table, name, ctype, nullable, default, extra, gen, precision in cur.fetchall():
            entry = schema.setdefault(table, {"columns": {}, "indexes": {}})
            entry["columns"][name] = Column(
                type=_normalise_type(ctype),
                nullable=nullable == "YES",
                default=_normalise_default(default),
                autoincrement="auto_increment" in (extra or "").lower(),
            )
            raw[(table, name)] = {"type": ctype, "extra": extra, "generation": gen, "precision": precision}
        cur.execute(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'qcb\\_%'"
            " ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        )
        for table, index, non_unique, column in cur.fetchall():
            unique, cols = schema[table]["indexes"].get(index, (not int(non_unique), ()))
            schema[table]["indexes"][index] = (unique, (*cols, column))
        cur.execute(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION),"
            " k.REFERENCED_TABLE_NAME, GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION),"
            " r.DELETE_RULE"
            " FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r"
            " ON r.CONSTRAINT_SCHEMA = k.TABLE_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME"
            " AND r.TABLE_NAME = k.TABLE_NAME"
            " WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL"
            " GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE"
        )
        fks = {
            (t, n, tuple(c.split(",")), rt, tuple(rc.split(",")), rule)
            for t, n, c, rt, rc, rule in cur.fetchall()
        }
        return schema, raw, fks
    finally:
        conn.close()


def without_exceptions(schema: Schema) -> Schema:
    """The live schema minus what module.xml cannot express (see NOT_IN_MODULE_XML_*)."""
    out: Schema = {}
    for table, entry in schema.items():
        out[table] = {
            "columns": {
                c: v for c, v in entry["columns"].items() if (table, c) not in NOT_IN_MODULE_XML_COLUMNS
            },
            "indexes": {
                i: v for i, v in entry["indexes"].items() if (table, i) not in NOT_IN_MODULE_XML_INDEXES
            },
        }
    return out


def doctrine_create_statements(schema: Schema) -> list[str]:
    """CREATE TABLE statements shaped like the ones Doctrine's MySQL platform emits for module.xml.

    Used to play FreePBX's install order here: `<database>` tables first, then BMO install() runs
    `freepbx-callback db migrate` on tables that already exist.
    """
    statements = []
    for table, entry in schema.items():
        parts = []
        for name, col in entry["columns"].items():
            sql = f"`{name}` {col.type.upper()}"
            sql += " NULL" if col.nullable else " NOT NULL"
            if col.default is not None:
                sql += " DEFAULT " + "'" + col.default.replace("'", "''") + "'"
            if col.autoincrement:
                sql += " AUTO_INCREMENT"
            parts.append(sql)
        for name, (unique, cols) in entry["indexes"].items():
            collist = ", ".join(f"`{c}`" for c in cols)
            if name == "PRIMARY":
                parts.append(f"PRIMARY KEY({collist})")
            else:
                parts.append(f"{'UNIQUE INDEX' if unique else 'INDEX'} `{name}` ({collist})")
        statements.append(
            f"CREATE TABLE `{table}` ({', '.join(parts)}) DEFAULT CHARACTER SET utf8mb4 ENGINE = InnoDB"
        )
    return statements
