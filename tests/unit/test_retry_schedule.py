from chalicelib.services.webhook_delivery import delivery_id_for, retry_delay
from chalicelib.settings import PRODUCTION_RETRY_SCHEDULE


def test_production_schedule_grows_and_spans_about_a_day():
    assert list(PRODUCTION_RETRY_SCHEDULE) == sorted(PRODUCTION_RETRY_SCHEDULE)
    total_hours = sum(PRODUCTION_RETRY_SCHEDULE) / 3600
    assert 20 <= total_hours <= 30
    assert len(PRODUCTION_RETRY_SCHEDULE) + 1 == 8  # attempts in all


def test_retry_delay_follows_the_schedule_then_stops():
    schedule = (5, 300, 1800)
    assert [retry_delay(n, schedule) for n in (1, 2, 3)] == [5, 300, 1800]
    assert retry_delay(4, schedule) is None
    assert retry_delay(0, schedule) is None


def test_delivery_ids_are_stable_per_event_and_endpoint_and_sort_by_event_time():
    first = delivery_id_for("evt_00000000000aaaaaaaaaaaaaaaaaaaa", "wh_1")
    assert first == delivery_id_for("evt_00000000000aaaaaaaaaaaaaaaaaaaa", "wh_1")
    assert first != delivery_id_for("evt_00000000000aaaaaaaaaaaaaaaaaaaa", "wh_2")
    later = delivery_id_for("evt_00000000000baaaaaaaaaaaaaaaaaaa", "wh_1")
    assert later > first
