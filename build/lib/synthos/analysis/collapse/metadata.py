"""Column roles given as metadata: SDV's metadata JSON, or a small Synthos YAML.

SDV (single-table and sequential metadata, ``METADATA_SPEC_VERSION`` ``SINGLE_TABLE_V1``,
bare or wrapped in ``{"tables": {name: ...}}`` with one table or the one named)::

    {"columns": {"student_id": {"sdtype": "id"}, "salary": {"sdtype": "numerical"}, ...},
     "primary_key": "student_id", "sequence_key": "store_id", "sequence_index": "date"}

sdtypes: id -> key; numerical -> numeric; categorical and boolean -> categorical; datetime ->
datetime; personal-data sdtypes (email, phone_number, address, ...) and unknown -> key (an
identifier: its values are drawn, not learned). ``primary_key`` is a key;
``sequence_key`` is a panel's entity key and ``sequence_index`` its time index.

Synthos YAML (or the same as JSON, or a dict)::

    roles: {student_id: key, notes: text, placed: categorical}   # roles.ROLES
    entity: store_id          # panel entity key (optional)
    time: date                # time index (optional)
    target: placed            # target column (optional)
    meaningful_keys: false    # keys take part in exact-copy hashing (optional)

A file that cannot be read, an sdtype or role that is not known, or a column the data does
not have is a DataError that names it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthos.errors import DataError, ErrorCode

from .roles import ROLES

SDTYPES = {
    "id": "key",
    "numerical": "numeric",
    "categorical": "categorical",
    "boolean": "categorical",
    "datetime": "datetime",
    "unknown": "key",
}
#: SDV's personal-data sdtypes: identifiers drawn at random, never compared as values.
PII_SDTYPES = frozenset(
    {
        "email",
        "phone_number",
        "ssn",
        "address",
        "street_address",
        "city",
        "postcode",
        "name",
        "first_name",
        "last_name",
        "ipv4_address",
        "ipv6_address",
        "mac_address",
        "url",
        "license_plate",
        "iban",
        "swift11",
        "credit_card_number",
        "vin",
    }
)
SYNTHOS_KEYS = ("roles", "entity", "time", "target", "meaningful_keys")


@dataclass
class Metadata:
    """Roles and panel columns a metadata file gives; `source` names the file or format."""

    roles: dict[str, str] = field(default_factory=dict)
    entity: str | None = None
    time: str | None = None
    target: str | None = None
    meaningful_keys: bool | None = None
    source: str = "metadata"

    def columns(self) -> set[str]:
        named = {self.entity, self.time, self.target}
        return (set(self.roles) | named) - {None}

    def check_columns(self, available: set[str], path: str | None) -> None:
        missing = sorted(self.columns() - available)
        if missing:
            raise DataError(
                f"{self.source} names column(s) the data does not have: "
                + ", ".join(repr(c) for c in missing),
                code=ErrorCode.DATA_SCHEMA,
                path=path,
                column=missing[0],
                expected="columns of the candidate or the reference: "
                + ", ".join(sorted(available)[:20]),
            )


def load_metadata(source: str | os.PathLike | dict[str, Any]) -> Metadata:
    """Metadata from a path (SDV JSON, Synthos YAML or JSON) or an already parsed dict."""
    name = "metadata"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = str(path)
        payload = _read(path)
    else:
        payload = source
    if not isinstance(payload, dict):
        raise _bad(name, "the metadata is not a mapping", "a JSON object or YAML mapping")
    if "tables" in payload or "columns" in payload:
        meta = _from_sdv(payload, name)
    else:
        meta = _from_synthos(payload, name)
    meta.source = name
    return meta


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(
            f"cannot read the metadata file {path}: {exc.strerror or exc}",
            code=ErrorCode.DATA_NOT_FOUND,
            path=str(path),
            expected="a readable SDV metadata JSON or Synthos roles YAML file",
        ) from exc
    import yaml

    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise _bad(str(path), f"cannot parse it: {exc}", "valid JSON or YAML") from exc


def _bad(name: str, why: str, expected: str) -> DataError:
    return DataError(
        f"bad metadata {name}: {why}",
        code=ErrorCode.DATA_SCHEMA,
        path=name if name != "metadata" else None,
        expected=expected,
    )


def _sdv_table(payload: dict[str, Any], name: str) -> dict[str, Any]:
    if "tables" not in payload:
        return payload
    tables = payload["tables"]
    if not isinstance(tables, dict) or len(tables) != 1:
        count = len(tables) if isinstance(tables, dict) else 0
        raise _bad(
            name,
            f"it describes {count} tables; the detector compares one table",
            "SDV single-table or sequential metadata (one table)",
        )
    return next(iter(tables.values()))


def _from_sdv(payload: dict[str, Any], name: str) -> Metadata:
    table = _sdv_table(payload, name)
    columns = table.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise _bad(name, "no 'columns' mapping", "SDV metadata with a 'columns' mapping")
    roles: dict[str, str] = {}
    for column, spec in columns.items():
        sdtype = spec.get("sdtype") if isinstance(spec, dict) else None
        if sdtype in SDTYPES:
            roles[column] = SDTYPES[sdtype]
        elif sdtype in PII_SDTYPES:
            roles[column] = "key"
        else:
            raise DataError(
                f"bad metadata {name}: column {column!r} has sdtype {sdtype!r}",
                code=ErrorCode.DATA_SCHEMA,
                path=name if name != "metadata" else None,
                column=str(column),
                expected="an sdtype among " + ", ".join([*SDTYPES, "or a personal-data sdtype"]),
            )
    for key in ("primary_key", "sequence_key"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise _bad(name, f"{key} {value!r} is not one column", f"{key} as a column name")
    if table.get("primary_key"):
        roles[table["primary_key"]] = "key"
    return Metadata(roles=roles, entity=table.get("sequence_key"), time=table.get("sequence_index"))


def _from_synthos(payload: dict[str, Any], name: str) -> Metadata:
    unknown = sorted(set(payload) - set(SYNTHOS_KEYS))
    if unknown:
        raise _bad(
            name, f"unknown key(s) {', '.join(unknown)}", "keys among " + ", ".join(SYNTHOS_KEYS)
        )
    roles = payload.get("roles") or {}
    if not isinstance(roles, dict):
        raise _bad(name, "'roles' is not a mapping", "roles: {column: role}")
    for column, role in roles.items():
        if role not in ROLES:
            raise DataError(
                f"bad metadata {name}: column {column!r} has role {role!r}",
                code=ErrorCode.DATA_SCHEMA,
                path=name if name != "metadata" else None,
                column=str(column),
                expected="a role among " + ", ".join(ROLES),
            )
    keys = payload.get("meaningful_keys")
    return Metadata(
        roles={str(c): str(r) for c, r in roles.items()},
        entity=payload.get("entity"),
        time=payload.get("time"),
        target=payload.get("target"),
        meaningful_keys=None if keys is None else bool(keys),
    )
