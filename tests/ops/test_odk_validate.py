"""The PL-KUMKM form in ODK Validate, the JavaRosa engine of ODK Collect: a Java runtime of
its own (Debian's, installed when missing) and a long run, so apart from the OpenRosa API tests
(tests/api/test_openrosa.py)."""

from __future__ import annotations

from app.openrosa import xlsform
from tests.support.debian import ensure_installed


def test_xform_passes_odk_validate():
    """ODK Validate (the JavaRosa engine of ODK Collect, shipped with pyxform) loads the form.
    It needs a Java runtime: Debian's, installed by the test when missing."""
    ensure_installed("/usr/bin/java", ["default-jre-headless"], "ODK Validate on the PL-KUMKM form")
    form = xlsform.convert(validate=True)  # raises on any ODK Validate error
    assert form.form_id == "pl_kumkm"


def test_follow_up_xform_passes_odk_validate():
    """The follow-up visit form (ODK Entities: an update of list `usaha`, its media usaha.csv)
    loads in ODK Validate too (docs/pemutakhiran.md)."""
    ensure_installed("/usr/bin/java", ["default-jre-headless"], "ODK Validate on the pemutakhiran_kumkm form")
    form = xlsform.convert(xlsform.FOLLOW_UP_XLSX, validate=True)
    assert (form.form_id, form.entities) == ("pemutakhiran_kumkm", True)
