"""Plain-language descriptions of SQL statements, and the locks they take, from pglast's AST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast.enums import AlterTableType, ConstrType, DropBehavior, ObjectType

from wizard.core.migrations import Statement

_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "bool": "boolean",
    "float4": "real",
    "float8": "double precision",
    "bpchar": "char",
}


@dataclass(frozen=True)
class Description:
    """What a statement does, which lock it takes, and which object it creates or removes."""

    summary: str
    lock: str
    relation: str | None = None
    creates: tuple[str, ...] = ()
    drops: tuple[str, ...] = ()
    cascade: bool = False


def _type_name(type_name: Any) -> str:
    name = str(type_name.names[-1].sval)
    return _TYPE_NAMES.get(name, name)


def _names(items: Any) -> str:
    return ".".join(str(s.sval) for s in items)


def describe(statement: Statement) -> Description:
    node = statement.node
    handler = _HANDLERS.get(statement.kind)
    if handler is None:
        return Description(f"runs a {statement.kind.removesuffix('Stmt')} statement", "depends on the statement")
    return handler(node)


def _create_table(node: Any) -> Description:
    table = node.relation.relname
    columns = [e for e in node.tableElts or () if type(e).__name__ == "ColumnDef"]
    refs = sorted(
        {c.pktable.relname for e in columns for c in (e.constraints or ()) if c.contype == ConstrType.CONSTR_FOREIGN}
    )
    summary = f"creates table {table} with {len(columns)} columns"
    if node.if_not_exists:
        summary += " (skipped if it already exists)"
    lock = "none on existing data"
    if refs:
        lock = f"brief SHARE ROW EXCLUSIVE lock on {', '.join(refs)} to add the foreign key (blocks writes, not reads)"
    return Description(summary, lock, refs[0] if refs else None, creates=(f"table:{table}",))


def _alter_table(node: Any) -> Description:
    table = node.relation.relname
    parts: list[str] = []
    creates: list[str] = []
    drops: list[str] = []
    rewrite = False
    for cmd in node.cmds:
        if cmd.subtype == AlterTableType.AT_AddColumn:
            col = cmd.def_
            constraints = list(col.constraints or ())
            default = any(c.contype == ConstrType.CONSTR_DEFAULT for c in constraints)
            not_null = any(c.contype == ConstrType.CONSTR_NOTNULL for c in constraints)
            text = f"adds column {col.colname} ({_type_name(col.typeName)}) to {table}"
            text += "; existing rows get its default" if default else "; existing rows get NULL"
            if not_null:
                text += "; it may not be empty"
            if cmd.missing_ok:
                text += " (skipped if it already exists)"
            parts.append(text)
            creates.append(f"column:{table}.{col.colname}")
        elif cmd.subtype == AlterTableType.AT_DropColumn:
            parts.append(f"removes column {cmd.name} from {table}, with all its values")
            drops.append(f"column:{table}.{cmd.name}")
        elif cmd.subtype == AlterTableType.AT_AlterColumnType:
            parts.append(f"changes the type of column {cmd.name} of {table} (rewrites the table)")
            rewrite = True
        else:
            parts.append(f"changes table {table} ({cmd.subtype.name.removeprefix('AT_')})")
    duration = "for as long as the table is rewritten" if rewrite else "for a moment (no rewrite of existing rows)"
    lock = f"ACCESS EXCLUSIVE lock on {table} {duration}: queries on {table} wait meanwhile"
    return Description("; ".join(parts), lock, table, tuple(creates), tuple(drops))


def _create_index(node: Any) -> Description:
    table = node.relation.relname
    columns = ", ".join(str(p.name) for p in node.indexParams if p.name)
    summary = f"creates index {node.idxname} on {table} ({columns}) to speed up lookups"
    if node.if_not_exists:
        summary += " (skipped if it already exists)"
    if node.concurrent:
        lock = f"none that blocks {table}: built CONCURRENTLY, outside a transaction"
    else:
        lock = f"SHARE lock on {table} while the index is built: reads go on, writes wait"
    return Description(summary, lock, table, creates=(f"index:{node.idxname}",))


def _drop(node: Any) -> Description:
    kinds = {
        ObjectType.OBJECT_TABLE: "table",
        ObjectType.OBJECT_INDEX: "index",
        ObjectType.OBJECT_VIEW: "view",
    }
    kind = kinds.get(node.removeType, node.removeType.name.removeprefix("OBJECT_").lower())
    names = [_names(o) for o in node.objects]
    cascade = node.behavior == DropBehavior.DROP_CASCADE
    summary = f"removes {kind} {', '.join(names)}"
    if kind == "table":
        summary += " and all its rows"
    if cascade:
        summary += ", and every object that depends on it (CASCADE)"
    if node.missing_ok:
        summary += " (skipped if it does not exist)"
    owner = "the index's table" if kind == "index" else f"the {kind}"
    lock = f"ACCESS EXCLUSIVE lock on {owner} for a moment"
    return Description(
        summary,
        lock,
        names[0] if kind == "table" else None,
        drops=tuple(f"{kind}:{n}" for n in names),
        cascade=cascade,
    )


def _comment(node: Any) -> Description:
    target = _names(node.object) if isinstance(node.object, tuple) else str(node.object)
    kind = node.objtype.name.removeprefix("OBJECT_").lower()
    return Description(
        f"stores a description of {kind} {target} for people reading the schema",
        "SHARE UPDATE EXCLUSIVE lock for a moment: reads and writes go on",
    )


_HANDLERS = {
    "CreateStmt": _create_table,
    "AlterTableStmt": _alter_table,
    "IndexStmt": _create_index,
    "DropStmt": _drop,
    "CommentStmt": _comment,
}
