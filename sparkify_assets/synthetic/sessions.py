"""Listeners and their sessions: the log lines of one day, in ts order.

Pages are chosen with the public sample's page counts as weights; a user's level changes only
through a plan-change sequence (Upgrade, Submit Upgrade, Home) in one of their sessions. Within a
day, sessions start in time order and run side by side; a heap merges their events, so memory
grows with the number of sessions open at once, not with the events.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from sparkify_assets.synthetic.catalogue import NO_TRACK, Jukebox, Track
from sparkify_assets.synthetic.vocabulary import (
    FEMALE_NAMES,
    LAST_NAMES,
    LISTENER_LOCATIONS,
    MALE_NAMES,
    USER_AGENTS,
    log_json,
)


class _Page(NamedTuple):
    """The page, method and status columns, already as JSON literals."""

    page: str
    method: str
    status: str


def _page(name: str, method: str, status: int) -> _Page:
    return _Page(log_json(name), log_json(method), str(status))


_NEXT_SONG = _page("NextSong", "PUT", 200)


_HOME = _page("Home", "GET", 200)


_LOGIN = _page("Login", "PUT", 307)


_LOGOUT = _page("Logout", "PUT", 307)


_UPGRADE = _page("Upgrade", "GET", 200)


_DOWNGRADE = _page("Downgrade", "GET", 200)


_SUBMIT_UPGRADE = _page("Submit Upgrade", "PUT", 307)


_SUBMIT_DOWNGRADE = _page("Submit Downgrade", "PUT", 307)


_SETTINGS = _page("Settings", "GET", 200)


_SAVE_SETTINGS = _page("Save Settings", "PUT", 307)


_HELP = _page("Help", "GET", 200)


_ABOUT = _page("About", "GET", 200)


_ERROR = _page("Error", "GET", 404)


class _PageMenu(NamedTuple):
    pages: tuple[_Page, ...]
    cum_weights: tuple[int, ...]
    total: int


def _menu(*shares: tuple[_Page, int]) -> _PageMenu:
    pages, weights = zip(*shares, strict=True)
    return _PageMenu(pages, tuple(itertools.accumulate(weights)), sum(weights))


# Weights are the page counts of the public sample, split by auth.
_LOGGED_IN_PAGES = (
    (_NEXT_SONG, 6820),
    (_HOME, 635),
    (_LOGOUT, 90),
    (_SETTINGS, 56),
    (_HELP, 38),
    (_ABOUT, 22),
    (_SAVE_SETTINGS, 10),
    (_ERROR, 9),
)


_LOGGED_IN_MENUS = {
    "free": _menu(*_LOGGED_IN_PAGES, (_UPGRADE, 60)),
    "paid": _menu(*_LOGGED_IN_PAGES, (_DOWNGRADE, 60)),
}


_LOGGED_OUT_MENU = _menu((_HOME, 171), (_LOGIN, 92), (_ABOUT, 14), (_HELP, 9))


# How the real sample shows a plan change: look at the plan, submit, land on Home.
_PLAN_CHANGE = {
    "free": (_UPGRADE, _SUBMIT_UPGRADE, _HOME),
    "paid": (_DOWNGRADE, _SUBMIT_DOWNGRADE, _HOME),
}


_OTHER_LEVEL = {"free": "paid", "paid": "free"}


_LEVEL_JSON = {"free": '"free"', "paid": '"paid"'}


def _choose_page(rng: random.Random, logged_in: bool, level: str) -> _Page:
    menu = _LOGGED_IN_MENUS[level] if logged_in else _LOGGED_OUT_MENU
    # What rng.choices does, minus its overhead: this runs once per event.
    return menu.pages[bisect.bisect(menu.cum_weights, rng.random() * menu.total)]


class _Identity(NamedTuple):
    """The user columns of a row, already as JSON literals."""

    auth: str
    first_name: str
    gender: str
    last_name: str
    location: str
    registration: str
    user_agent: str
    user_id: str


_LOGGED_OUT = _Identity('"Logged Out"', "null", "null", "null", "null", "null", "null", '""')


_MILLIS_QUIRK = 796  # every ts and registration in the public sample ends in .796 s


_PAID_SHARE = 0.25  # the real sample ends with 22 paid users out of 96


@dataclass(slots=True)
class _Listener:
    """A user. `level` changes when one of their sessions submits a plan change, so all of the
    user's sessions, including those running at the same time, agree on it."""

    identity: _Identity
    level: str
    plan_change_ms: int | None  # when to start changing plan; None when done or never

    def wants_plan_change(self, ts_ms: int) -> bool:
        return self.plan_change_ms is not None and ts_ms >= self.plan_change_ms


class _Population(NamedTuple):
    listeners: list[_Listener]
    cum_weights: list[float]

    def pick(self, rng: random.Random) -> _Listener:
        return rng.choices(self.listeners, cum_weights=self.cum_weights)[0]


def listener_count(events: int) -> int:
    # The real sample has 97 users. Larger runs get a few more so each user is not unusually busy.
    return 100 + math.isqrt(events) // 10


def _make_identity(rng: random.Random, user_id: int, first_day_ms: int) -> _Identity:
    gender = rng.choice("MF")
    agent = rng.choice(USER_AGENTS)
    registered_ms = first_day_ms - rng.randint(3_600, 120 * 86_400) * 1000 + _MILLIS_QUIRK
    return _Identity(
        auth=log_json("Logged In"),
        first_name=log_json(rng.choice(MALE_NAMES if gender == "M" else FEMALE_NAMES)),
        gender=log_json(gender),
        last_name=log_json(rng.choice(LAST_NAMES)),
        location=log_json(rng.choice(LISTENER_LOCATIONS)),
        registration=log_json(float(registered_ms)),
        # The real data quotes every agent except Firefox's.
        user_agent=log_json(agent if "Firefox" in agent else f'"{agent}"'),
        user_id=log_json(str(user_id)),
    )


def make_population(rng: random.Random, count: int, first_day_ms: int, span_ms: int) -> _Population:
    levels = ["paid" if rng.random() < _PAID_SHARE else "free" for _ in range(count)]
    # Heavy-tailed activity, paid users busier: in the real sample they play 4 of every 5 songs.
    activity = [
        min(rng.paretovariate(1.2), 40.0) * (3.0 if level == "paid" else 1.0) for level in levels
    ]
    # About 1 user in 12 changes plan (8 of 96 in the real sample). They are picked from the
    # busier half so that the change shows up even in small data sets.
    busier_half = sorted(range(count), key=activity.__getitem__, reverse=True)[: count // 2]
    plan_changers = set(rng.sample(busier_half, max(2, count // 12)))
    listeners = []
    for index, level in enumerate(levels):
        listeners.append(
            _Listener(
                identity=_make_identity(rng, index + 1, first_day_ms),
                level=level,
                plan_change_ms=(
                    first_day_ms + int(span_ms * rng.uniform(0.1, 0.9))
                    if index in plan_changers
                    else None
                ),
            )
        )
    return _Population(listeners, list(itertools.accumulate(activity)))


_LAST_SECOND_OF_DAY = 86_399


_MEAN_SESSION_EVENTS = 8.5  # 8056 events in 941 sessions in the public sample


_MEAN_SECONDS_PER_EVENT = 220.0  # mostly songs of about four minutes


_MAX_BROWSE_SECONDS = 40.0


_LOGGED_OUT_START_SHARE = 0.04


def _timestamp_ms(day_ms: int, second: float) -> int:
    return day_ms + int(second) * 1000 + _MILLIS_QUIRK


def _event_line(
    who: _Identity, page: _Page, track: Track, level: str, item: int, session_id: int, ts: int
) -> str:
    # Keys in the order of the real files. Every value here is already a JSON literal.
    return (
        f'{{"artist":{track.artist},"auth":{who.auth},"firstName":{who.first_name},'
        f'"gender":{who.gender},"itemInSession":{item},"lastName":{who.last_name},'
        f'"length":{track.length},"level":{level},"location":{who.location},'
        f'"method":{page.method},"page":{page.page},"registration":{who.registration},'
        f'"sessionId":{session_id},"song":{track.song},"status":{page.status},"ts":{ts},'
        f'"userAgent":{who.user_agent},"userId":{who.user_id}}}'
    )


def _session_rows(
    rng: random.Random,
    jukebox: Jukebox,
    listener: _Listener,
    session_id: int,
    size: int,
    start_second: float,
    day_ms: int,
) -> Iterator[tuple[int, str]]:
    """(ts, line) for each event of one session, in order. The session ends before midnight."""
    logged_in = rng.random() >= _LOGGED_OUT_START_SHARE
    # A session that starts late is sped up so that it ends before midnight on average; the
    # clamp below catches the rest.
    pace = min(1.0, (_LAST_SECOND_OF_DAY - start_second) / (size * _MEAN_SECONDS_PER_EVENT))
    plan_change: list[_Page] = []
    second = start_second
    for item in range(size):
        ts = _timestamp_ms(day_ms, second)
        # Only start a plan change that can reach its Submit row before the session ends.
        if logged_in and item + 1 < size and listener.wants_plan_change(ts):
            listener.plan_change_ms = None
            plan_change = list(_PLAN_CHANGE[listener.level])
        level = listener.level
        page = plan_change.pop(0) if plan_change else _choose_page(rng, logged_in, level)
        track = jukebox.pick() if page is _NEXT_SONG else NO_TRACK
        who = listener.identity if logged_in else _LOGGED_OUT
        yield ts, _event_line(who, page, track, _LEVEL_JSON[level], item, session_id, ts)
        if page is _SUBMIT_UPGRADE or page is _SUBMIT_DOWNGRADE:
            listener.level = _OTHER_LEVEL[level]
        logged_in = page is _LOGIN or (logged_in and page is not _LOGOUT)
        dwell = track.seconds if page is _NEXT_SONG else rng.random() * _MAX_BROWSE_SECONDS
        second = min(second + dwell * pace, _LAST_SECOND_OF_DAY)


def _session_starts(rng: random.Random, count: int) -> Iterator[float]:
    """Sorted uniform seconds of the day. Each is drawn as the minimum of the uniforms still
    left, so the sorted list never has to be built."""
    fraction = 0.0
    for left in range(count, 0, -1):
        fraction += (1.0 - fraction) * (1.0 - rng.random() ** (1.0 / left))
        yield min(fraction * 86_400, _LAST_SECOND_OF_DAY)


def _session_sizes(rng: random.Random, events: int, sessions: int) -> Iterator[int]:
    """Sizes of `sessions` sessions, each at least 1, adding up to exactly `events`."""
    remaining = events
    for left in range(sessions, 0, -1):
        if left == 1:
            yield remaining
            return
        # Re-aim the mean at what is left, so the last session is not a giant catch-all.
        mean = remaining / left
        drawn = 1 + int(rng.expovariate(1.0 / max(mean - 0.5, 0.01)))
        size = min(drawn, remaining - (left - 1))
        remaining -= size
        yield size


# (ts of its next row, start order, that row, the rest of its rows)
_OpenSession = tuple[int, int, str, Iterator[tuple[int, str]]]


def _session_count(events: int) -> int:
    return max(1, min(events, round(events / _MEAN_SESSION_EVENTS))) if events else 0


def day_lines(
    rng: random.Random,
    jukebox: Jukebox,
    population: _Population,
    session_ids: Iterator[int],
    day_ms: int,
    events: int,
) -> Iterator[str]:
    """The day's log lines in ts order. Sessions overlap, so a heap holds the next row of
    each open session. The heap is keyed by (ts, start order), which keeps the order the same
    from run to run."""
    open_sessions: list[_OpenSession] = []
    sessions = _session_count(events)
    starts = zip(_session_starts(rng, sessions), _session_sizes(rng, events, sessions), strict=True)
    for order, (start_second, size) in enumerate(starts):
        start_ms = _timestamp_ms(day_ms, start_second)
        while open_sessions and open_sessions[0][0] <= start_ms:
            yield _take_earliest(open_sessions)
        rows = _session_rows(
            rng, jukebox, population.pick(rng), next(session_ids), size, start_second, day_ms
        )
        ts, line = next(rows)
        heapq.heappush(open_sessions, (ts, order, line, rows))
    while open_sessions:
        yield _take_earliest(open_sessions)


def _take_earliest(open_sessions: list[_OpenSession]) -> str:
    _, order, line, rows = open_sessions[0]
    following = next(rows, None)
    if following is None:
        heapq.heappop(open_sessions)
    else:
        heapq.heapreplace(open_sessions, (following[0], order, following[1], rows))
    return line


def events_per_day(rng: random.Random, events: int, first_day: date, days: int) -> list[int]:
    """Uneven daily volumes (quieter weekends) that add up to `events`. Each day gets at least
    one event when there are enough."""
    weights = [
        rng.uniform(0.4, 1.6) * (0.6 if (first_day + timedelta(d)).weekday() >= 5 else 1.0)
        for d in range(days)
    ]
    floor = 1 if events >= days else 0
    per_weight = (events - floor * days) / sum(weights)
    shares = [weight * per_weight for weight in weights]
    counts = [floor + int(share) for share in shares]
    # Largest remainders get the events lost to rounding down.
    by_remainder = sorted(range(days), key=lambda d: shares[d] - int(shares[d]), reverse=True)
    for d in by_remainder[: events - sum(counts)]:
        counts[d] += 1
    return counts
