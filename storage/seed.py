"""Demo data: two branches in different regions and one user per role (idempotent)."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Branch, User
from storage.passwords import hash_password

DEMO_BRANCHES = [
    ("SH001", "示范银行上海浦东支行", "east"),
    ("CD001", "示范银行成都高新支行", "west"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    branch_code: str | None = None
    authorizer_level: int = 0


DEMO_USERS = [
    DemoUser("teller1", "柜员一", ("teller",), "SH001"),
    DemoUser("teller2", "柜员二", ("teller",), "CD001"),
    DemoUser("keyer1", "录入员一", ("keyer",)),
    DemoUser("keyer2", "录入员二", ("keyer",)),
    DemoUser("keyer3", "录入员三", ("keyer",)),
    DemoUser("keyer4", "录入员四", ("keyer",)),
    DemoUser("arbiter1", "仲裁员一", ("arbiter",)),
    DemoUser("authorizer1", "授权员一", ("authorizer",), authorizer_level=1),
    DemoUser("authorizer2", "授权员二", ("authorizer",), authorizer_level=2),
    DemoUser("supervisor1", "主管一", ("supervisor",)),
    DemoUser("admin", "系统管理员", ("admin",)),
]


def seed_demo(session: Session, *, password: str) -> list[DemoUser]:
    """Create the demo branches and users if missing; existing rows are left as they are."""
    branches = {b.code: b for b in session.scalars(select(Branch))}
    for code, name, region in DEMO_BRANCHES:
        if code not in branches:
            branches[code] = Branch(code=code, name=name, region=region)
            session.add(branches[code])
    session.flush()
    existing = set(session.scalars(select(User.username)))
    pw_hash = hash_password(password)
    for demo in DEMO_USERS:
        if demo.username in existing:
            continue
        session.add(
            User(
                username=demo.username,
                display_name=demo.display_name,
                password_hash=pw_hash,
                roles=list(demo.roles),
                authorizer_level=demo.authorizer_level,
                branch_id=branches[demo.branch_code].id if demo.branch_code else None,
                active=True,
            )
        )
    session.flush()
    return DEMO_USERS
