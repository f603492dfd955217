"""Waits for PostgreSQL at URL (up to 30 s), then creates the databases named after it.

    python pg_create.py postgres://postgres@127.0.0.1:PORT/postgres fastusers reference
"""

import asyncio
import sys
import time

import asyncpg


async def main(url: str, names: list[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = await asyncpg.connect(url)
            break
        except (OSError, asyncpg.PostgresError, asyncpg.exceptions.CannotConnectNowError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
