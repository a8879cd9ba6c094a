"""Which span a scheduled run processes: `first_span` plus the number of the config's schedule
intervals between `schedule.start` and the start of the run's data interval.

With `@monthly` from 2013-01-01 and `first_span = 1`, the interval starting 2013-03-01 is span 3.
Plain Python and croniter (which Airflow installs); no TensorFlow.
"""

from __future__ import annotations

import datetime

from pipeline.config.sections import ScheduleSection

# Airflow's presets as the cron expressions Airflow itself uses for them.
PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@quarterly": "0 0 1 */3 *", "@yearly": "0 0 1 1 *"}
# A run more than this many intervals after the start is refused rather than counted to.
MAX_INTERVALS = 1_000_000


def utc(value: str | datetime.datetime) -> datetime.datetime:
    """An ISO date or time (or a datetime) as an aware UTC datetime; naive means UTC."""
    moment = datetime.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def cron(schedule: ScheduleSection) -> str:
    return PRESETS.get(schedule.interval, schedule.interval)


def span_for_interval(schedule: ScheduleSection, interval_start: str | datetime.datetime) -> int:
    """The span of the data interval starting at `interval_start` (see the module docstring).

    Raises ValueError when the interval starts before `schedule.start` or off the schedule.
    """
    from croniter import croniter

    start, wanted = utc(schedule.start), utc(interval_start)
    if wanted < start:
        raise ValueError(f"the interval starting {wanted.isoformat()} is before schedule.start "
                         f"{start.isoformat()}")
    ticks = croniter(cron(schedule), start - datetime.timedelta(seconds=1))
    for index in range(MAX_INTERVALS):
        tick = ticks.get_next(datetime.datetime)
        if tick == wanted:
            return schedule.first_span + index
        if tick > wanted:
            break
    raise ValueError(f"{wanted.isoformat()} is not the start of a '{schedule.interval}' interval "
                     f"counted from {start.isoformat()}")
