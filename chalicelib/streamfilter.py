"""Which table stream records ``DeliverEmails`` is invoked for: the event source mapping's filter.

Lambda event filtering (FilterCriteria, pattern syntax of EventBridge) drops a
record before the function is invoked, so the counters, guard and waitlist items
a registration also writes, and the function's own email-state updates, cost no
invocation. The rule is one that future email kinds can keep: a write that wants
an email sends sets ``email_state`` to ``pending`` on the registration item, next
to the change's entry in ``notifications`` (``registered`` on the first write;
``promoted`` and ``cancelled`` by ``store.transitions._status_change``; ``waitlist_closed``
by ``store.add_notification`` and each ``reminder_<offset>`` by ``store.ask_reminder``,
from the scheduled function; ``updated`` by ``store.mark_schedule_change`` when the event's
time or place changed; a staff resend by ``store.request_resend``).
``chalicelib.delivery.change_of`` then
decides what the record asks for; every record it acts on matches.

This module imports nothing, so the deploy stack (``infrastructure/``) reads the
same constant.
"""

#: The filter pattern (a JSON object) of the ``DeliverEmails`` event source mapping.
STREAM_FILTER_PATTERN = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {
        "NewImage": {
            "type": {"S": ["registration"]},
            "email_state": {"S": ["pending"]},
        },
    },
}
