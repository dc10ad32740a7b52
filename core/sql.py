"""Hand-written SQL for the few statements on the redemption path, with the ORM's own
conversions.

Compiling a queryset costs more CPU than the round trip it makes (about 0.4 ms against
0.1 ms for the card lock, measured in docs/performance.md), and a redemption runs four
such statements. These helpers build the SQL once per model and load or save model
instances exactly as the ORM would: values go through each field's
``get_db_prep_save`` on the way in and through the backend's and the field's
converters on the way out. Everything else in the project uses the ORM.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def _prepared_cursor_class() -> Any:
    import psycopg

    class PreparedCursor(psycopg.Cursor[Any]):
        """Server-side binding, and every statement prepared on first use."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs["prepare"] = True
            return super().execute(query, params, **kwargs)

    return PreparedCursor


@contextmanager
def cursor() -> Iterator[Any]:
    """A cursor for the hot-path statements.

    On PostgreSQL (unless ``DB_PREPARED_STATEMENTS`` is off, e.g. behind a transaction
    pooler without prepared-statement support) the statements are prepared once per
    connection, so the server stops parsing and planning them on every redemption.
    Django's own wrapper still surrounds the cursor: errors are Django's, and queries
    are logged and counted as usual.
    """
    current = connections[DEFAULT_DB_ALIAS]
    if current.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
        current.ensure_connection()
        raw = _PREPARED_CURSOR(current.connection)  # type: ignore[misc]
        with current._prepare_cursor(raw) as wrapped:  # type: ignore[attr-defined]
            yield wrapped
    else:
        with current.cursor() as plain:
            yield plain


_PREPARED_CURSOR = _prepared_cursor_class() if connection.vendor == "postgresql" else None


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class RowMapper(Generic[M]):
    """Select and insert whole rows of ``model`` without building querysets."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self.table = model._meta.db_table
        self.fields: list[Field[Any, Any]] = list(model._meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]

    def columns(self, alias: str) -> str:
        """``alias."id", alias."merchant_id", ...`` in field order, for a SELECT list."""
        return ", ".join(f"{alias}.{_quote(f.column)}" for f in self.fields)

    @cached_property
    def _converters(self) -> list[tuple[Any, list[Any]]]:
        out = []
        for field in self.fields:
            column = field.get_col(self.table)
            field_converters = getattr(field, "get_db_converters")(connection)  # noqa: B009
            converters = connection.ops.get_db_converters(column) + field_converters
            out.append((column, converters))
        return out

    def load(self, row: Sequence[Any], offset: int = 0) -> M:
        """A model instance from ``row[offset:offset + len(fields)]``."""
        # The connection itself, looked up once: each attribute read through Django's
        # ``connection`` proxy is a thread-local lookup, and converters read several.
        current = connections[DEFAULT_DB_ALIAS]
        values = []
        for value, (column, converters) in zip(
            row[offset : offset + len(self.fields)], self._converters, strict=True
        ):
            for convert in converters:
                value = convert(value, column, current)
            values.append(value)
        return self.model.from_db(current.alias, self.attnames, values)

    @cached_property
    def _insert_fields(self) -> list[Field[Any, Any]]:
        return [f for f in self.fields if not f.primary_key]

    @cached_property
    def _insert_sql(self) -> str:
        columns = ", ".join(_quote(f.column) for f in self._insert_fields)
        marks = ", ".join(["%s"] * len(self._insert_fields))
        pk = self.model._meta.pk
        assert pk is not None
        # Built from model metadata only, never from input.
        sql = f"INSERT INTO {_quote(self.table)} ({columns}) VALUES ({marks}) RETURNING "  # noqa: S608
        return sql + _quote(pk.column)

    def insert_statement(self, instance: M) -> tuple[str, list[Any]]:
        """The INSERT of ``instance`` (its defaults already applied) without a RETURNING
        clause, and its parameters: for a data-modifying ``WITH`` part of another
        statement (``insert(before=...)``)."""
        current = connections[DEFAULT_DB_ALIAS]
        params = [
            f.get_db_prep_save(getattr(instance, f.attname), current) for f in self._insert_fields
        ]
        return self._insert_sql.rsplit(" RETURNING ", 1)[0], params

    def insert(self, instance: M, *, before: str = "", before_params: Sequence[Any] = ()) -> M:
        """INSERT the instance (its defaults already applied) and set its primary key.

        ``before`` is a ``WITH ...`` clause run in the same statement (PostgreSQL runs a
        data-modifying CTE exactly once), saving a round trip.
        """
        current = connections[DEFAULT_DB_ALIAS]
        params = [
            f.get_db_prep_save(getattr(instance, f.attname), current) for f in self._insert_fields
        ]
        with cursor() as cur:
            cur.execute(f"{before} {self._insert_sql}".strip(), [*before_params, *params])
            instance.pk = cur.fetchone()[0]
        instance._state.adding = False
        instance._state.db = current.alias
        return instance
