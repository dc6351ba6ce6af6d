"""Constants written into the SQL text instead of bound: for the planner of a prepared statement.

A generic plan (one plan kept for every execution, no planning per call) cannot use a partial
index whose predicate names a value it only gets as a parameter; written into the text, it can.
"""

from sqlalchemy import ColumnElement, Integer, String, literal_column


def sql_literal(value: str) -> ColumnElement:
    """A string constant rendered into the SQL text (not bound)."""
    if "'" in value:
        raise ValueError(value)
    return literal_column(f"'{value}'", String)


def sql_int(value: int) -> ColumnElement:
    """An integer constant rendered into the SQL text (not bound)."""
    return literal_column(str(int(value)), Integer)
