import csv
import datetime as dt

from bikecast.calendar import calendar_fields, holidays
from training.data import DEFAULT_DATA


def test_derived_calendar_matches_every_day_of_the_data_set() -> None:
    mismatches = []
    with DEFAULT_DATA.open() as handle:
        for row in csv.DictReader(handle):
            derived = calendar_fields(dt.date.fromisoformat(row["dteday"]))
            for name in ("instant", "season", "yr", "mnth", "holiday", "weekday", "workingday"):
                if getattr(derived, name) != int(row[name]):
                    mismatches.append((row["dteday"], name, getattr(derived, name), row[name]))
    assert mismatches == []


def test_holidays_move_to_the_observed_weekday() -> None:
    assert dt.date(2011, 12, 26) in holidays(2011)  # Christmas on a Sunday
    assert dt.date(2011, 4, 15) in holidays(2011)  # Emancipation Day on a Saturday
    assert dt.date(2010, 12, 31) in holidays(2010)  # New Year 2011 fell on a Saturday
    assert dt.date(2011, 1, 1) not in holidays(2011)
