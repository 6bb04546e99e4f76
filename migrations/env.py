"""Alembic environment: async engine over asyncpg. The URL is the one set by the caller
(app.infra.db.migrate), else DATABASE_URL, else the embedded server, so `alembic upgrade head`
works against both."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from app.infra.db import resolve_url

    return resolve_url()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    from app.core.settings import settings

    # a server that does not answer fails the migration after this, to be tried again
    engine = create_async_engine(_url(), connect_args={"timeout": settings.connect_timeout})
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
