"""What a user would see of a database: every table's rows and the schema, as comparable data.

Two fingerprints are equal when the same tables hold the same rows (compared by an md5 of
the ordered rows as text, with the count alongside for a readable difference) and the
schemas match: schemas, relations, columns (type, default, nullability, identity,
generation, collation, comment), indexes, constraints, sequences (settings and current
value), views, triggers, functions, types, extensions, policies and privileges. Object ids
and anything else a restore legitimately changes are left out.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

# Schemas of the system and of other sessions, never the user's.
_USER_SCHEMA = (
    "{ns} NOT IN ('pg_catalog', 'information_schema') AND {ns} NOT LIKE 'pg\\_toast%' AND {ns} NOT LIKE 'pg\\_temp\\_%'"
)
_SCHEMA_OF = _USER_SCHEMA.format(ns="n.nspname")

_QUERIES: dict[str, str] = {
    "schemas": f"SELECT n.nspname, pg_get_userbyid(n.nspowner), n.nspacl::text FROM pg_namespace n WHERE {_SCHEMA_OF}"
    " ORDER BY 1",
    "relations": "SELECT n.nspname, c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),"
    " c.relacl::text, c.reloptions::text, c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class')"
    f" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_SCHEMA_OF} ORDER BY 1, 2",
    "columns": "SELECT n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
    " a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, co.collname,"
    " a.attacl::text, col_description(c.oid, a.attnum)"
    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0"
    f" WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_SCHEMA_OF}"
    " ORDER BY 1, 2, 3",
    "indexes": "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes"
    f" WHERE {_USER_SCHEMA.format(ns='schemaname')} ORDER BY 1, 2, 3",
    "constraints": "SELECT n.nspname, cl.relname, c.conname, c.contype, pg_get_constraintdef(c.oid), c.convalidated,"
    " c.condeferrable, c.condeferred FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
    f" LEFT JOIN pg_class cl ON cl.oid = c.conrelid WHERE {_SCHEMA_OF} ORDER BY 1, 2, 3",
    "sequences": "SELECT schemaname, sequencename, data_type::text, start_value, min_value, max_value, increment_by,"
    f" cycle, cache_size, last_value FROM pg_sequences WHERE {_USER_SCHEMA.format(ns='schemaname')} ORDER BY 1, 2",
    "sequence_owners": "SELECT n.nspname, s.relname, t.relname, a.attname FROM pg_depend d"
    " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace"
    " JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
    f" WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND {_SCHEMA_OF}"
    " ORDER BY 1, 2",
    "views": "SELECT schemaname, viewname, definition FROM pg_views"
    f" WHERE {_USER_SCHEMA.format(ns='schemaname')} ORDER BY 1, 2",
    "triggers": "SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled FROM pg_trigger t"
    " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    f" WHERE NOT t.tgisinternal AND {_SCHEMA_OF} ORDER BY 1, 2, 3",
    "functions": "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)"
    f" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND {_SCHEMA_OF}"
    " ORDER BY 1, 2, 3",
    "types": "SELECT n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod),"
    " (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)"
    " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
    f" WHERE t.typtype IN ('e', 'd', 'r', 'm') AND {_SCHEMA_OF} ORDER BY 1, 2",
    "extensions": "SELECT e.extname, e.extversion, n.nspname FROM pg_extension e"
    " JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
    "policies": "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check"
    f" FROM pg_policies WHERE {_USER_SCHEMA.format(ns='schemaname')} ORDER BY 1, 2, 3",
}


def fingerprint(url: str) -> dict[str, Any]:
    """The schema sections above, and `rows`: {schema.table: (count, md5 of the ordered rows as text)}."""
    with psycopg.connect(url, autocommit=True) as conn:
        found: dict[str, Any] = {name: conn.execute(query).fetchall() for name, query in _QUERIES.items()}
        rows: dict[str, tuple[int, str | None]] = {}
        tables = [(schema, name) for schema, name, kind, *_ in found["relations"] if kind in ("r", "p")]
        for schema, name in tables:
            query = sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {}.{} AS t"
            ).format(sql.Identifier(schema), sql.Identifier(name))
            count, digest = conn.execute(query).fetchone() or (0, None)
            rows[f"{schema}.{name}"] = (int(count), digest)
        found["rows"] = rows
    return found


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per section, what only one side has: a short, readable assertion message."""
    out: dict[str, Any] = {}
    for section in before.keys() | after.keys():
        old, new = before.get(section), after.get(section)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = old.keys() | new.keys()
            out[section] = {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}
        else:
            old_set, new_set = set(old or ()), set(new or ())
            out[section] = {
                "only before": sorted(old_set - new_set, key=repr),
                "only after": sorted(new_set - old_set, key=repr),
            }
    return out
