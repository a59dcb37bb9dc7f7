"""Every claim of every registered study can get a verdict (issue 14): a target range or a
fixed verdict with its reason, a source in the paper, a unit, and a docs section that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeinfer.experiments import registry

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = [(name, i) for name in registry.available_studies() if not registry.get_study(name).fixture
          for i in range(len(registry.get_study(name).claims))]


def _anchors(md: Path) -> set[str]:
    out = set()
    for line in md.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


@pytest.mark.parametrize(("study", "index"), CLAIMS)
def test_claim_is_judged_and_documented(study, index):
    st = registry.get_study(study)
    c = st.claims[index]
    assert c.judged, f"{study}: claim {c.text!r} has neither a target nor a fixed verdict"
    assert c.source, f"{study}: claim {c.text!r} does not say where the paper states it"
    assert c.unit, f"{study}: claim {c.text!r} has no unit"
    assert c.docs, f"{study}: claim {c.text!r} names no docs section"
    page, _, anchor = c.docs.partition("#")
    assert (ROOT / page).is_file(), f"{study}: {c.docs}: no such page"
    if anchor:
        assert anchor in _anchors(ROOT / page), f"{study}: {c.docs}: no such section"


def test_every_paper_study_has_claims():
    for name in registry.available_studies():
        st = registry.get_study(name)
        if not st.fixture:
            assert st.claims, f"study {name} declares no claim"
