"""Risk flags: {code, severity, evidence} on Voucher.flags (what the authorization rules read)
and as RiskFlag rows (what the supervisor dashboard lists)."""

from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session

from storage.models import Voucher
from storage.verification_models import RiskFlag

SOURCE_TAG = "verification"


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str  # low | medium | high
    evidence: dict = field(default_factory=dict)
    source: str = "risk"  # risk | seal | password

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "evidence": self.evidence,
            "source": SOURCE_TAG,
            "check": self.source,
        }


def replace_flags(
    session: Session, voucher: Voucher, flags: list[Flag], *, checks: set[str]
) -> None:
    """Replace what the given checks said before (re-runs are idempotent); keep other flags."""
    kept = [
        f
        for f in (voucher.flags or [])
        if not (isinstance(f, dict) and f.get("source") == SOURCE_TAG and f.get("check") in checks)
    ]
    voucher.flags = kept + [f.as_json() for f in flags]  # a new list: JSON columns need it
    session.execute(
        delete(RiskFlag).where(
            RiskFlag.voucher_id == voucher.id,
            RiskFlag.image_version == voucher.image_version,
            RiskFlag.source.in_(checks),
        )
    )
    for f in flags:
        session.add(
            RiskFlag(
                voucher_id=voucher.id,
                image_version=voucher.image_version,
                code=f.code,
                severity=f.severity,
                evidence=f.evidence,
                source=f.source,
            )
        )
    session.flush()
