"""``make run`` plays SES's mailbox simulator: its addresses' events reach RecordEmailEvents."""

from __future__ import annotations

import pytest

from chalicelib import registrations, store
from localservice.mailbox import MailboxSimulator, simulated_outcomes
from tests.conftest import SEED_EVENT_ID, partos_registration


@pytest.mark.parametrize("address, outcomes", [
    ("bounce@simulator.amazonses.com", ("bounce",)),
    ("Bounce+anna@Simulator.AmazonSES.com", ("bounce",)),
    ("complaint+1@simulator.amazonses.com", ("delivery", "complaint")),
    ("success@simulator.amazonses.com", ("delivery",)),
    ("ooto@simulator.amazonses.com", ("delivery",)),
    ("suppressionlist@simulator.amazonses.com", ("bounce",)),
    ("anna@example.org", ()),
    ("other@simulator.amazonses.com", ()),
    ("bounce@simulator.amazonses.com.evil.example", ()),
])
def test_simulator_addresses(address, outcomes):
    assert simulated_outcomes(address) == outcomes


def test_mail_to_simulator_addresses_gets_ses_events_and_other_mail_none(seed_event, pump):
    from app import record_email_events

    ids = {address: registrations.register(SEED_EVENT_ID, partos_registration(email=address), "nl").registration_id
           for address in ("bounce+anna@simulator.amazonses.com", "complaint@simulator.amazonses.com",
                           "success@simulator.amazonses.com", "anna@example.org")}
    pump.pump_once()
    simulator = MailboxSimulator(record_email_events)
    assert simulator.feed_new() == 4  # a bounce, a delivery and a complaint, a delivery
    assert simulator.feed_new() == 0  # each message once
    outcomes = {address: store.get_registration_in_event(SEED_EVENT_ID, rid).get("email_outcome")
                for address, rid in ids.items()}
    assert outcomes == {"bounce+anna@simulator.amazonses.com": "bounced",
                        "complaint@simulator.amazonses.com": "complained",
                        "success@simulator.amazonses.com": "delivered", "anna@example.org": None}
