"""app.security.policy.authorize, the one authorization entry, asked directly: every role x
action x key scope, the rules beside scope (an admin's targets anywhere, an enumerator's own
records, the nation), and the personal-data verdict. The roles expected here are written out
by hand from docs/authorization.md, not read from POLICY, so a change of the policy table
shows here as well as in the walk of tests/test_authorization.py."""

from __future__ import annotations

import itertools

import pytest

from app.core.errors import Problem
from app.security import policy
from app.security.authn import require, require_any_role, require_key
from app.security.policy import NASIONAL, POLICY, authorize
from app.security.principal import ROLES, Principal

ALL = set(ROLES)
# docs/authorization.md, the ticked columns, per action
ALLOWED = {
    "record.post": {"enumerator", "admin"},
    "record.correct": {"enumerator", "admin"},
    "record.decide": {"verifikator", "admin"},
    "report.read": {"verifikator", "dinas", "walidata", "admin"},
    "target.write": {"dinas", "admin"},
    "sync.pull": {"walidata", "dinas", "admin"},
    "audit.read": {"admin"},
    "indikator.read": {"dinas", "verifikator", "walidata", "admin"},
    "indikator.write": {"dinas", "admin"},
    "kumkm.cek": {"mitra"},
    "kinerja.sendiri": {"enumerator"},
    # every key but a partner's (mitra), which takes only its look-up (docs/mitra.md)
    "record.read": ALL - {"mitra"},
}
KEY_SCOPES = (None, "16", "16.07", "15", "15.01")
DESA = "16.07.01.2001"  # inside 16 and 16.07; outside 15 and 15.01
OWNER = 7  # the key holder that created the record


def key(role: str, scope: str | None = None, *, pii: bool = False, identity: int | None = None) -> Principal:
    return Principal(1, f"{role}@{scope or 'nasional'}", role, scope, pii, identity)


def refusal(call) -> str | None:
    """The problem code authorize raises, or None when it lets the caller go on."""
    try:
        call()
    except Problem as p:
        assert p.status == 403, p.body()
        return p.code
    return None


def test_the_policy_is_the_documented_one():
    assert {a: set(r) for a, r in POLICY.items()} == {a: r for a, r in ALLOWED.items() if a != "record.read"}
    for action, allowed in ALLOWED.items():
        assert set(policy.roles(action)) == allowed


@pytest.mark.parametrize(("action", "role", "scope"), list(itertools.product(ALLOWED, ROLES, KEY_SCOPES)))
def test_role(action, role, scope):
    """The role alone (no wilayah named): allowed or 403 role-forbidden, whatever the key's scope."""
    got = refusal(lambda: authorize(key(role, scope), action))
    assert got == (None if role in ALLOWED[action] else "role-forbidden")


@pytest.mark.parametrize(("action", "role", "scope"), [(a, r, s) for a in ALLOWED for r in sorted(ALLOWED[a]) for s in KEY_SCOPES])
def test_scope(action, role, scope):
    """An allowed role on a wilayah: inside the key's wilayah, or 403 outside-scope; an admin's
    target anywhere."""
    p = key(role, scope, identity=OWNER)
    inside = scope is None or DESA.startswith(scope + ".")
    anywhere = action == "target.write" and role == "admin"
    assert refusal(lambda: authorize(p, action, DESA, owner=OWNER)) == (None if inside or anywhere else "outside-scope")


def test_the_role_is_refused_before_the_scope():
    assert refusal(lambda: authorize(key("enumerator", "15"), "record.decide", DESA)) == "role-forbidden"


def test_scope_follows_the_tree_not_the_text():
    assert refusal(lambda: authorize(key("dinas", "16.07"), "report.read", "16.071")) == "outside-scope"
    assert refusal(lambda: authorize(key("dinas", "16.07"), "report.read", "16.07")) is None
    assert refusal(lambda: authorize(key("dinas", "16.07"), "report.read", "16")) == "outside-scope"


@pytest.mark.parametrize("scope", KEY_SCOPES)
def test_the_nation(scope):
    """`nasional`, and a report asked without a wilayah, are covered by national keys only."""
    want = None if scope is None else "outside-scope"
    assert refusal(lambda: authorize(key("dinas", scope), "indikator.write", NASIONAL, field="pemilik")) == want
    assert refusal(lambda: authorize(key("dinas", scope), "report.read", None, field="wilayah", nation_if_none=True)) == want
    # without nation_if_none, no wilayah is the role alone
    assert refusal(lambda: authorize(key("dinas", scope), "report.read")) is None


def test_the_refusals_say_why_in_indonesian_from_the_field():
    with pytest.raises(Problem) as e:
        authorize(key("walidata", "16"), "indikator.write")
    assert e.value.detail == "role walidata tidak boleh mengubah indikator; yang boleh: dinas, admin"
    with pytest.raises(Problem) as e:
        authorize(key("verifikator"), "record.post", doing="mengirim data pendataan")
    assert e.value.detail == "role verifikator tidak boleh mengirim data pendataan; yang boleh: enumerator, admin"
    with pytest.raises(Problem) as e:
        authorize(key("dinas", "16.07"), "report.read", "15.01", field="kabkota", kabkota="15.01")
    # the key's own wilayah is named, never the one refused
    assert e.value.detail == "kabkota di luar wilayah kunci ini (16.07 dan wilayah di dalamnya)"
    assert e.value.errors == [{"field": "kabkota", "message": e.value.detail, "type": "scope"}]
    assert e.value.extra == {"kabkota": "15.01"}
    with pytest.raises(Problem) as e:
        authorize(key("dinas", "16"), "report.read", None, field="wilayah", nation_if_none=True)
    assert e.value.detail == ("wilayah wajib diisi: kunci ini hanya mencakup 16, bukan seluruh Indonesia; minta wilayah=16")


@pytest.mark.parametrize("scope", KEY_SCOPES)
def test_an_enumerator_corrects_only_its_holders_records(scope):
    mine, other = key("enumerator", scope, identity=OWNER), key("enumerator", scope, identity=OWNER + 1)
    inside = scope is None or DESA.startswith(scope + ".")
    assert refusal(lambda: authorize(mine, "record.correct", DESA, owner=OWNER)) == (None if inside else "outside-scope")
    # the route's dependency asks before the record is read: the role alone
    assert refusal(lambda: authorize(other, "record.correct")) is None
    # another holder is refused whatever the wilayah, before the scope is looked at
    assert refusal(lambda: authorize(other, "record.correct", DESA, owner=OWNER)) == "forbidden"
    assert refusal(lambda: authorize(mine, "record.correct", DESA, owner=None)) == "forbidden"
    # admin corrects anyone's record, inside its wilayah
    assert refusal(lambda: authorize(key("admin", scope), "record.correct", DESA, owner=OWNER)) == (None if inside else "outside-scope")
    # reading is not limited to one's own records (only their personal data is)
    assert refusal(lambda: authorize(other, "record.read", DESA, owner=OWNER)) == (None if inside else "outside-scope")


# ------------------------------------------------------------------ personal data


def pii(p: Principal, wilayah: str | None = DESA, **kw) -> bool:
    return authorize(p, "record.read", wilayah, owner=OWNER, **kw).pii


@pytest.mark.parametrize("scope", [None, "16", "16.07"])
def test_personal_data_of_a_record_inside_the_key(scope):
    assert pii(key("admin", scope))
    assert pii(key("verifikator", scope))
    assert pii(key("dinas", scope))
    assert pii(key("enumerator", scope, identity=OWNER))
    assert not pii(key("enumerator", scope, identity=OWNER + 1))
    assert not pii(key("enumerator", scope, identity=None))
    assert not pii(key("walidata", scope))
    assert pii(key("walidata", scope, pii=True))


def test_personal_data_of_a_version_that_lay_elsewhere():
    """A correction moved the record from 16.71 to 16.07: its old version's personal data only
    for whom may see it in both."""
    assert not pii(key("verifikator", "16.07"), was_in="16.71.01.1001")
    assert pii(key("verifikator", "16"), was_in="16.71.01.1001")
    assert pii(key("admin", "16.07"), was_in="16.71.01.1001")
    assert not pii(key("enumerator", "16.07", identity=OWNER), was_in="16.71.01.1001")
    assert pii(key("enumerator", "16", identity=OWNER), was_in="16.71.01.1001")


@pytest.mark.parametrize("scope", KEY_SCOPES)
def test_personal_data_with_no_wilayah_named_is_the_keys_own(scope):
    """The sync: everything it returns lies inside the key's wilayah."""
    assert authorize(key("admin", scope), "sync.pull").pii
    assert authorize(key("dinas", scope), "sync.pull").pii
    assert not authorize(key("walidata", scope), "sync.pull").pii
    assert authorize(key("walidata", scope, pii=True), "sync.pull").pii


# ------------------------------------------------------------------ the routes' dependencies


def test_the_dependencies_carry_the_policys_roles():
    """KeyFirst reads `.roles` (and `.action`) off a write route's dependency before its body."""
    for action in POLICY:
        dep = require(action)
        assert dep is require(action)  # one callable per action
        assert dep.roles == POLICY[action] and dep.action == action
    assert set(require_key.roles) == ALL - {"mitra"} and require_key.action == "record.read"
    assert require_any_role.roles == ROLES
