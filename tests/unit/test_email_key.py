"""chalicelib.store.email_key: one mailbox, one key, however the address is spelled (README, "Storage")."""

from hypothesis import given
from hypothesis import strategies as st

from chalicelib import store

LOCAL = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=30)
ASCII_DOMAIN = st.from_regex(r"\A[A-Za-z0-9]{1,12}(\.[A-Za-z]{2,6}){1,2}\Z")


def test_case_and_surrounding_space_do_not_matter():
    # GIVEN one mailbox written three ways
    spellings = ["Anna.de.Vries@Example.ORG", "  anna.de.vries@example.org\t", "ANNA.DE.VRIES@EXAMPLE.ORG"]
    # THEN they share one key
    assert {store.email_key(s) for s in spellings} == {"anna.de.vries@example.org"}


def test_an_internationalised_domain_and_its_ascii_form_are_one_mailbox():
    # GIVEN a domain in Unicode and in its IDNA ASCII (punycode) form
    # THEN both give the ASCII form
    punycode = "user@xn--xample-9ua.org"
    assert store.email_key("user@éxample.org") == store.email_key(punycode) == punycode


def test_the_local_part_is_casefolded_not_only_lowercased():
    # GIVEN a German sharp s in upper and lower case
    assert store.email_key("STRASSE@example.org") == store.email_key("straße@example.org")


def test_without_an_at_sign_the_text_is_casefolded():
    assert store.email_key(" Not An Address ") == "not an address"


@given(local=LOCAL, domain=ASCII_DOMAIN)
def test_hostile_local_parts_never_raise_and_a_key_is_its_own_key(local, domain):
    # GIVEN any local part (control characters, quotes, CR/LF, any script) on an ASCII domain
    address = f"{local}@{domain}"
    # WHEN its key is taken
    key = store.email_key(address)
    # THEN the domain is lower case, and taking the key again changes nothing
    assert key.endswith("@" + domain.lower())
    assert store.email_key(key) == key


@given(local=st.from_regex(r"\A[A-Za-z0-9._+-]{1,30}\Z"), domain=ASCII_DOMAIN)
def test_the_case_of_an_ascii_address_never_matters(local, domain):
    # GIVEN an ASCII address in upper and in lower case
    # THEN both have one key
    assert store.email_key(f"{local}@{domain}".upper()) == store.email_key(f"{local}@{domain}".lower())
