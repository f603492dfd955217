"""The reference: fastapi-users 15.0.5 configured as its full example (SQLAlchemy, UUID ids),
with the routes fastusers' quickstart serves, for scripts/bench.

    DATABASE_URL=sqlite+aiosqlite:///PATH | postgresql+asyncpg://user@host:port/db
    REDIS_URL=redis://127.0.0.1:PORT/1
    SECRET=...

    python app.py init                 # create the tables (once, before the workers start)
    uvicorn app:app --workers N        # serve

Backends: /auth/jwt (Bearer + JWT), /auth/redis (Bearer + Redis), /auth/session (Cookie
`fastusers_session` + database token, as the quickstart's); /auth/register, /users/me.
Password hashing is fastapi-users' default: pwdlib's Argon2Hasher, argon2id m=65536 t=3 p=4,
spelled out below.
"""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncGenerator

import redis.asyncio
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
    RedisStrategy,
)
from fastapi_users.authentication.strategy.db import (
    AccessTokenDatabase,
    DatabaseStrategy,
)
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTableUUID,
)
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./reference.db")
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/1")
SECRET = os.environ.get("SECRET", "SECRET")
LIFETIME = 3600


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)):
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(session: AsyncSession = Depends(get_async_session)):
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


# fastapi-users' default, with argon2-cffi's defaults written out: argon2id m=65536 t=3 p=4.
password_helper = PasswordHelper(
    PasswordHash(
        (Argon2Hasher(time_cost=3, memory_cost=65536, parallelism=4), BcryptHasher())
    )
)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):
    yield UserManager(user_db, password_helper)


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


def get_jwt_strategy() -> JWTStrategy:
    return JWTStrategy(secret=SECRET, lifetime_seconds=LIFETIME)


redis_client = redis.asyncio.from_url(REDIS_URL, decode_responses=True)


def get_redis_strategy() -> RedisStrategy:
    return RedisStrategy(redis_client, lifetime_seconds=LIFETIME)


def get_database_strategy(
    access_token_db: AccessTokenDatabase[AccessToken] = Depends(get_access_token_db),
) -> DatabaseStrategy:
    return DatabaseStrategy(access_token_db, lifetime_seconds=LIFETIME)


jwt_backend = AuthenticationBackend(
    name="jwt",
    transport=BearerTransport(tokenUrl="auth/jwt/login"),
    get_strategy=get_jwt_strategy,
)
redis_backend = AuthenticationBackend(
    name="redis",
    transport=BearerTransport(tokenUrl="auth/redis/login"),
    get_strategy=get_redis_strategy,
)
session_backend = AuthenticationBackend(
    name="session",
    transport=CookieTransport(
        cookie_name="fastusers_session", cookie_max_age=LIFETIME, cookie_secure=False
    ),
    get_strategy=get_database_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](
    get_user_manager, [jwt_backend, redis_backend, session_backend]
)

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(jwt_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(
    fastapi_users.get_auth_router(redis_backend), prefix="/auth/redis", tags=["auth"]
)
app.include_router(
    fastapi_users.get_auth_router(session_backend), prefix="/auth/session", tags=["auth"]
)
app.include_router(
    fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"]
)
app.include_router(
    fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"]
)


async def create_db_and_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:] == ["init"]:
        asyncio.run(create_db_and_tables())
    else:
        sys.exit("usage: python app.py init   (serve with: uvicorn app:app --workers N)")
