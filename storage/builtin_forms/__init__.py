"""The four built-in voucher types (demo forms) as shipped JSON data; pure loading, no DB."""

import json
from functools import cache
from pathlib import Path

FORMS_DIR = Path(__file__).parent


@cache
def load_builtin_forms() -> dict[str, dict]:
    """Return the built-in form definitions keyed by form name."""
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        forms[data["form"]] = data
    return forms
