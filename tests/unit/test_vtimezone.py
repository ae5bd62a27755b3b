"""The invite's VTIMEZONE (README "Emails", calendar invites; chalicelib.vtimezone).

Outlook on Windows ignores RDATE in a VTIMEZONE and showed summer events an hour off; the
observances are now yearly rules, each DTSTART in the offset before the change (RFC 5545 3.6.5).
The property: parsed back by icalendar (which expands RRULE and RDATE with dateutil), the
component gives the same UTC offset as the IANA data at every hour of the event's year.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.vtimezone import vtimezone

ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def test_amsterdam_is_two_yearly_rules_from_the_offset_before_the_change():
    text = vtimezone("Europe/Amsterdam", 2023).to_ical().decode()
    assert text == "\r\n".join([
        "BEGIN:VTIMEZONE", "TZID:Europe/Amsterdam",
        "BEGIN:DAYLIGHT", "DTSTART:20220327T020000", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
        "TZNAME:CEST", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "END:DAYLIGHT",
        "BEGIN:STANDARD", "DTSTART:20221030T030000", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
        "TZNAME:CET", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD",
        "END:VTIMEZONE", "",
    ])


def test_a_zone_that_gave_up_daylight_saving_time_ends_its_rule():
    text = vtimezone("America/Sao_Paulo", 2019).to_ical().decode()
    assert "RRULE:FREQ=YEARLY;UNTIL=20191231T235959Z;BYDAY=3SU;BYMONTH=2" in text


@settings(max_examples=100, deadline=None)
@given(zone_key=st.sampled_from(ZONES), year=st.integers(2000, 2037))
def test_parsed_back_it_gives_the_iana_offset_at_every_hour_of_the_year(zone_key, year):
    component = icalendar.Calendar.from_ical(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + vtimezone(zone_key, year).to_ical()
        + b"END:VCALENDAR\r\n").walk("VTIMEZONE")[0]
    parsed = component.to_tz(lookup_tzid=False)  # from the component itself, not the zone's name
    zone = ZoneInfo(zone_key)
    instant = datetime(year, 1, 1, tzinfo=UTC)
    while instant.year == year:
        local = instant.astimezone(zone).replace(tzinfo=None)
        if local.replace(tzinfo=zone).utcoffset() == local.replace(tzinfo=zone, fold=1).utcoffset():  # unambiguous
            assert parsed.utcoffset(local) == zone.utcoffset(local), (zone_key, local)
        instant += timedelta(hours=1)
