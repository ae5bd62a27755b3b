"""``exports convert`` streams: 50,000 registrations with peak memory under 150 MB, flat as the export grows.

Peak resident memory (VmHWM) of a fresh ``python -m staff``-equivalent process; Linux only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.staff.conftest import CASES_EVENT, write_aws_export

LIMIT_MB = 150
EVENT_ID = CASES_EVENT["id"]

MEASURE = """
import sys, tracemalloc
from staff.cli import main
trace = sys.argv[1] == "trace"
if trace:
    tracemalloc.start()
code = main(sys.argv[2:])
python_peak = tracemalloc.get_traced_memory()[1] if trace else 0
# VmHWM: this process's peak resident memory. Not ru_maxrss, which on Linux keeps the parent's
# peak across fork and exec (a pytest worker's hundreds of MB would count).
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(code, hwm_kb, python_peak)
"""


def raw_items(count: int) -> Iterator[dict[str, Any]]:
    """The event item and ``count`` registrations in DynamoDB JSON, as the table would hold them; generated lazily."""
    from chalicelib import store

    definition = json.dumps({**CASES_EVENT, "capacity": count - count // 10})
    yield store.serialize(
        {
            "pk": f"EVENT#{EVENT_ID}",
            "sk": "#EVENT",
            "type": "event",
            "event_id": EVENT_ID,
            "definition": definition,
            "seat_capacity": count - count // 10,
            "seats_taken": count - count // 10,
            "waitlisted_count": count // 10,
            "waitlist_seq": count // 10,
        }
    )
    confirmed = count - count // 10
    for n in range(count):
        waitlisted = n >= confirmed
        item = {
            "pk": f"EVENT#{EVENT_ID}",
            "sk": f"REG#id{n:08d}",
            "type": "registration",
            "registration_id": f"id{n:08d}",
            "event_id": EVENT_ID,
            "status": "waitlisted" if waitlisted else "confirmed",
            "name": f"Deelnemer {n} Ødegård",
            "email": f"p{n}@example.org",
            "language": "nl",
            "answers": {
                "phone": "+31 6 12345678",
                "note": "Vegetarisch, graag" if n % 3 else "=1+1",
                "diet": ["vegetarian"] if n % 2 else [],
                "member": n % 2 == 0,
            },
            "registered_at": f"2023-05-{1 + n % 28:02d}T10:{n % 60:02d}:00+00:00",
            "email_state": "sent",
            "expires_at": 1700000000,
            "notifications": {
                "registered": {"state": "sent", "at": "2023-05-01T10:00:00+00:00", "message_id": "m" * 40}
            },
        }
        if waitlisted:
            item["waitlist_ticket"] = count - n  # reverse order, so positions must really be ranked
        yield store.serialize(item)
        # and its address guard, as in the table
        yield store.serialize({"pk": f"EVENT#{EVENT_ID}", "sk": f"EMAIL#{n:064d}", "type": "guard",
                               "for_registration": f"id{n:08d}", "expires_at": 1700000000})


def convert(folder: Path, out: Path, fmt: str, trace: bool = False) -> tuple[float, float]:
    """Run ``python -m staff exports convert`` in a fresh process; returns (peak RSS MB, peak Python heap MB)."""
    answer = subprocess.run(
        [sys.executable, "-c", MEASURE, "trace" if trace else "rss", "exports", "convert", str(folder),
         "--event", EVENT_ID, "--format", fmt, "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    code, rss_kb, python_peak = answer.stdout.split()[-3:]
    assert code == "0", answer.stderr
    return int(rss_kb) / 1024, int(python_peak) / 2**20


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM")
def test_fifty_thousand_registrations_convert_in_flat_memory(tmp_path):
    small = write_aws_export(tmp_path / "small", raw_items(5_000), files=2)
    large = write_aws_export(tmp_path / "large", raw_items(50_000), files=2)

    small_rss, _ = convert(small, tmp_path / "small.csv", "csv")
    large_rss, _ = convert(large, tmp_path / "large.csv", "csv")
    print(f"peak RSS: 5,000 rows {small_rss:.1f} MB; 50,000 rows {large_rss:.1f} MB")
    assert large_rss < LIMIT_MB
    assert large_rss - small_rss < 15, "memory grows with the export"

    with open(tmp_path / "large.csv", encoding="utf-8-sig") as handle:
        header = handle.readline().strip().split(",")
        lines = handle.readlines()
    assert len(lines) == 50_000 and header[0] == "registration_id"
    positions = sorted(int(line.split(",")[2]) for line in lines if ",waitlisted," in line)
    assert positions == list(range(1, 5_001))
