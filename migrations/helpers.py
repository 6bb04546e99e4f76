"""Run a multi-statement SQL script inside Alembic's transaction. asyncpg refuses several
commands in one prepared statement, so the script goes through its simple-query path."""

from alembic import op
from sqlalchemy.util import await_


def run_script(sql: str) -> None:
    raw = op.get_bind().connection.dbapi_connection  # SQLAlchemy's adapter around asyncpg
    await_(raw.driver_connection.execute(sql))
