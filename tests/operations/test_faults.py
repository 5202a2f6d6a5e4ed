"""The fault suite's own arithmetic: what it sends and how it counts. (The suite itself runs the
production stack: `make faults`.)"""

from faults.beats import busiest_window, closest_polls_of_one_rent
from faults.report import Figures, table
from faults.traffic import Rental, sms_storm


def test_a_storm_repeats_a_fifth_of_its_sms_each_after_its_original():
    rentals = [Rental(1, "1001", "token-a"), Rental(2, "1002", "token-b")]
    storm = sms_storm(rentals, count=100, duplicates=0.2, tag="T")
    texts = [delivery.sms.text for delivery in storm]
    assert len(storm) == 100 and len(set(texts)) == 80 and all(text.startswith("T ") for text in texts)
    first_seen = {}
    for n, delivery in enumerate(storm):
        first_seen.setdefault(delivery.sms.text, n)
    originals = {text: storm[n] for text, n in first_seen.items()}
    assert all(d.content_type == "application/json" for d in originals.values())  # a repeat never comes first
    repeats = [d for n, d in enumerate(storm) if first_seen[d.sms.text] != n]
    assert sum(d.body == originals[d.sms.text].body for d in repeats) == 10  # the provider sent it again
    assert sum(d.content_type == "application/x-www-form-urlencoded" for d in repeats) == 10  # another way
    assert {d.sms.rental for d in storm} == set(rentals)


def test_polling_is_measured_over_a_window_and_per_rent():
    polls = [{"at": n * 0.5, "id": str(n % 3), "page": "0"} for n in range(300)]
    assert busiest_window(polls) == 120  # 2 a second over 60 s
    assert closest_polls_of_one_rent(polls) == 1.5
    assert closest_polls_of_one_rent([*polls, {"at": 0.1, "id": "0", "page": "1"}]) == 1.5  # later pages: same poll


def test_a_row_fails_on_any_missed_target_and_says_which():
    row = Figures("S9 example", sent=10, stored=9, lost=1, duplicates=0, server_errors=0, no_answer=0, recovery=12.4)
    row.expect_none("lost", "duplicates", "server_errors")
    row.expect_recovery_under(120)
    assert row.missed == ["lost 0"] and not row.ok
    assert table([row]).splitlines()[-1] == "| S9 example | 10 | 9 | 1 | 0 | 0 | 0 | 12 s | FAIL |"
