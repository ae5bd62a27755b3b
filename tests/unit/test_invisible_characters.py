"""Invisible characters in typed text (README "Emails", names): removed, and text of nothing else is empty.

Found by a tester: names of only U+034F, U+115F U+1160 or U+2800 were stored and showed as blank in
the staff list, exports and the door search; "Ann\u200ba" was stored as another name than "Anna".
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.events import load_event_file
from chalicelib.validation import RegistrationInvalid, validate_registration, without_invisible
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration

EVENT = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
#: A sample of what is removed: zero-width space, word joiner, soft hyphen, BOM, CGJ, Hangul fillers, a tag.
REMOVED = "\u200b\u2060\u00ad\ufeff\u034f\u115f\u1160\u3164\uffa0\U000e0001\U000e0041\U0001d173"
#: Shows as nothing but is not removed (a name of it alone is empty).
BLANK = " \u2800\u0301\u200c\u200d\u200e"
#: Letters (Lo) that only fill a Hangul syllable block: removed, so not part of a visible core below.
HANGUL_FILLERS = "\u115f\u1160\u3164\uffa0"
SCOTLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"


def _name(name: str) -> str:
    return validate_registration(EVENT, partos_registration(name=name), "en").model_dump()["name"]


@settings(max_examples=200, deadline=None)
@given(core=st.text(st.characters(codec="utf-8", categories=("L", "N"), exclude_characters=HANGUL_FILLERS),
                    min_size=1, max_size=20),
       noise=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(REMOVED)), max_size=8))
def test_invisible_characters_are_removed_from_names(core, noise):
    typed = list(core)
    for at, ch in noise:
        typed.insert(min(at, len(typed)), ch)
    assert _name("".join(typed)) == core.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(REMOVED + BLANK), min_size=1, max_size=12))
def test_a_name_of_nothing_visible_is_empty(name):
    with pytest.raises(RegistrationInvalid) as refused:
        _name(name)
    assert [(e.field, e.code) for e in refused.value.errors] == [("name", "too_short")]


@pytest.mark.parametrize("name", [
    "Zoë Ødegård", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",  # Persian: the ZWNJ spells the word
    f"Bo {SCOTLAND}", "\u0d15\u0d4d\u200d", "Ann\u180ea", "\u05d3\u05e0\u05d4 \u200fDana",
])
def test_what_real_names_need_is_kept(name):
    assert _name(name) == name


def test_tags_outside_an_emoji_flag_are_removed():
    assert without_invisible(f"a\U000e0041\U000e0042{SCOTLAND}\U000e007f") == f"a{SCOTLAND}"
