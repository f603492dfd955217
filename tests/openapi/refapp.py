"""fastapi-users 15.0.5 configured like fastusers' quickstart example, to dump its OpenAPI document."""
import json, sys, uuid
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, CookieTransport, JWTStrategy
from fastapi_users.authentication.strategy.db import DatabaseStrategy
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import SQLAlchemyAccessTokenDatabase, SQLAlchemyBaseAccessTokenTableUUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

class Base(DeclarativeBase): pass
class User(SQLAlchemyBaseUserTableUUID, Base): pass
class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base): pass
engine = create_async_engine("sqlite+aiosqlite:///./ref.db")
maker = async_sessionmaker(engine, expire_on_commit=False)
async def get_session():
    async with maker() as s: yield s
async def get_user_db(session: AsyncSession = Depends(get_session)): yield SQLAlchemyUserDatabase(session, User)
async def get_at_db(session: AsyncSession = Depends(get_session)): yield SQLAlchemyAccessTokenDatabase(session, AccessToken)
class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = "SECRET"; verification_token_secret = "SECRET"
async def get_user_manager(user_db=Depends(get_user_db)): yield UserManager(user_db)
class UserRead(schemas.BaseUser[uuid.UUID]): pass
class UserCreate(schemas.BaseUserCreate): pass
class UserUpdate(schemas.BaseUserUpdate): pass
def jwt(): return JWTStrategy(secret="SECRET", lifetime_seconds=3600)
def db(at=Depends(get_at_db)): return DatabaseStrategy(at, lifetime_seconds=3600)
jwt_backend = AuthenticationBackend(name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=jwt)
cookie_backend = AuthenticationBackend(name="cookie", transport=CookieTransport(cookie_max_age=3600), get_strategy=jwt)
session_backend = AuthenticationBackend(name="session", transport=CookieTransport(cookie_name="fastusers_session", cookie_max_age=3600), get_strategy=db)
fu = FastAPIUsers[User, uuid.UUID](get_user_manager, [jwt_backend, cookie_backend, session_backend])
app = FastAPI()
app.include_router(fu.get_auth_router(jwt_backend), prefix="/auth/jwt", tags=["auth"])
app.include_router(fu.get_auth_router(cookie_backend), prefix="/auth/cookie", tags=["auth"])
app.include_router(fu.get_auth_router(session_backend), prefix="/auth/session", tags=["auth"])
app.include_router(fu.get_register_router(UserRead, UserCreate), prefix="/auth", tags=["auth"])
app.include_router(fu.get_reset_password_router(), prefix="/auth", tags=["auth"])
app.include_router(fu.get_verify_router(UserRead), prefix="/auth", tags=["auth"])
app.include_router(fu.get_users_router(UserRead, UserUpdate), prefix="/users", tags=["users"])
current_active_user = fu.current_user(active=True)
@app.get("/authenticated-route")
async def authenticated_route(user: User = Depends(current_active_user)):
    return {"message": f"Hello {user.email}!"}
if __name__ == "__main__":
    json.dump(app.openapi(), sys.stdout, indent=2)
