// Reads a JSON array of iCalendar texts on stdin and writes, for each, what Mozilla's ical.js (the
// parser of Thunderbird) reads from it, as a JSON array on stdout. Used by tests/test_calendar_parsers.py.
// Each VTIMEZONE is registered first, so times with a TZID convert to UTC as a calendar client would.
import ICAL from "ical.js";

function parameters(property) {
  const out = {};
  for (const [name, value] of Object.entries(property.toJSON()[1])) {
    out[name.toUpperCase()] = value;
  }
  return out;
}

function read(text) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  for (const zone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(zone);
  }
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const organizer = vevent.getFirstProperty("organizer");
    const utc = (time) => time.convertToZone(ICAL.Timezone.utcTimezone).toString();
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: vevent.getFirstPropertyValue("status"),
      summary: event.summary,
      location: event.location,
      url: vevent.getFirstPropertyValue("url"),
      start_tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
      start_utc: utc(event.startDate),
      end_utc: utc(event.endDate),
      organizer: organizer ? { value: organizer.getFirstValue(), params: parameters(organizer) } : null,
      attendees: vevent.getAllProperties("attendee").map((a) => ({ value: a.getFirstValue(), params: parameters(a) })),
    };
  });
  return {
    method: calendar.getFirstPropertyValue("method"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((z) => z.getFirstPropertyValue("tzid")),
    events,
  };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const texts = JSON.parse(input);
  process.stdout.write(JSON.stringify(texts.map(read)));
});
