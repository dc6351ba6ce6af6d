"""Login and logout (bearer tokens), and who am I."""

from fastapi import APIRouter

from api.deps import AuthDep, CurrentUser, SessionDep, SettingsDep
from api.schemas import LoginIn, LoginOut, UserOut
from api.sessions import login, revoke

router = APIRouter(prefix="/api/auth", tags=["auth"])


def user_out(user) -> UserOut:  # noqa: ANN001
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/login", response_model=LoginOut)
def post_login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> LoginOut:
    token, user = login(
        session, username=body.username, password=body.password, ttl_hours=settings.token_ttl_hours
    )
    session.commit()
    return LoginOut(access_token=token, user=user_out(user))


@router.post("/logout", status_code=204)
def post_logout(auth: AuthDep, session: SessionDep) -> None:
    revoke(session, auth[0])
    session.commit()


@router.get("/me", response_model=UserOut)
def get_me(user: CurrentUser) -> UserOut:
    return user_out(user)
