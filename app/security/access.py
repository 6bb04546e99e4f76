"""The names app.security.access held before it was split by kind (issue 28): principal
(Principal, ROLES), policy (POLICY, authorize, scope_problem), personal (the personal-data rule
and masks) and accesslog (log_access). Kept for the code written against the old module while
it moves; new code imports the modules themselves."""
from __future__ import annotations

from app.security.accesslog import log_access
from app.security.personal import (
    PII_FIELDS,
    can_see_pii,
    mask_nama,
    mask_nik,
    mask_record_data,
    mask_telepon,
    reveals_pii,
)
from app.security.policy import NASIONAL, POLICY, authorize, can_see_duplicates, roles, scope_problem
from app.security.principal import ROLES, Principal

__all__ = ["NASIONAL", "PII_FIELDS", "POLICY", "ROLES", "Principal", "authorize", "can_see_duplicates", "can_see_pii",
           "log_access", "mask_nama", "mask_nik", "mask_record_data", "mask_telepon", "reveals_pii", "roles",
           "scope_problem"]
