"""Synthetic Sparkify data, byte-compatible with the public Udacity sample.

The output has the same layout and serialisation as the public sample
(``shared/acceptance/udacity_sample``):

* ``song_data/A/B/C/TRABC….json``: one song object per file, written by Python's default
  ``json.dumps`` (``", "`` and ``": "`` separators, non-ASCII as ``\\uXXXX``, no final newline).
* ``log_data/YYYY/MM/YYYY-MM-DD-events.json``: one event per line in compact JSON. ``/`` is
  escaped as ``\\/``, the text is pure ASCII, there is no newline after the last line, and the
  lines are in ts order.

The real sample has one play that matches a song. Here ``match_share`` of the plays match a
generated song by title, artist name and duration, so joins give useful numbers. The quirks of
the real data are kept: double-encoded artist and song names in the log, a ``userId`` that is
``""`` when logged out, userAgents in literal quotes, registration written as a float, and users
whose level changes partway through.

This module writes the files; the words are in ``vocabulary``, the songs in ``catalogue``, the
listeners and their day's log lines in ``sessions``. Day files are named by ``contract.layout``.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sparkify_assets.contract.layout import day_bounds_ms, day_file_key, days_in
from sparkify_assets.core.errors import UserError
from sparkify_assets.synthetic.catalogue import (
    SERIAL_SPACE,
    Catalogue,
    Jukebox,
    catalogue_songs,
    unmatched_pool_size,
    unmatched_tracks,
)
from sparkify_assets.synthetic.sessions import (
    day_lines,
    events_per_day,
    listener_count,
    make_population,
)

# Ten years of days: the Sparkify layout holds a day file per day, and far more is a typo.
MAX_DAYS = 3_653


class GenerateError(UserError, ValueError):
    """The arguments or the output folder cannot give a data set; the message says why."""


def _write_song_files(rng: random.Random, song_data: Path, count: int) -> Catalogue:
    catalogue = Catalogue([], set(), [])
    song_data.mkdir(parents=True)
    # Plain strings and os.path: pathlib costs more than the write itself for 400k tiny files.
    made_folders: set[str] = set()
    for song in catalogue_songs(rng, count):
        folder = os.path.join(song_data, *song.track_id[2:5])  # TRABC… lives in A/B/C/
        if folder not in made_folders:
            os.makedirs(folder, exist_ok=True)
            made_folders.add(folder)
        with open(os.path.join(folder, f"{song.track_id}.json"), "wb") as file:
            file.write(song.file_text().encode("ascii"))
        catalogue.add(song)
    return catalogue


def _make_jukebox(
    rng: random.Random, song_data: Path, songs: int, events: int, match_share: float
) -> Jukebox:
    catalogue = _write_song_files(rng, song_data, songs)
    unmatched = unmatched_tracks(rng, catalogue, unmatched_pool_size(events))
    return Jukebox(rng, catalogue.matchable, unmatched, match_share)


def _write_lines(path: Path, lines: Iterator[str]) -> int:
    """Newline-separated, with no newline after the last line, as in the real files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "w", encoding="ascii", newline="") as file:
        while chunk := list(itertools.islice(lines, 4096)):
            file.write(("\n" if written else "") + "\n".join(chunk))
            written += len(chunk)
    return written


@dataclass(frozen=True)
class GenerationSummary:
    """What generate() wrote."""

    events_written: int
    song_files_written: int
    day_files_written: int
    out_dir: Path

    def __str__(self) -> str:
        return (
            f"wrote {self.events_written} events in {self.day_files_written} day files and "
            f"{self.song_files_written} song files to {self.out_dir}"
        )


def _check_arguments(events: int, songs: int, days: int, match_share: float) -> None:
    if events < 0:
        raise GenerateError(f"events must be 0 or more, got {events}")
    if not 0 <= songs < SERIAL_SPACE:
        raise GenerateError(f"songs must be between 0 and {SERIAL_SPACE - 1}, got {songs}")
    if not 1 <= days <= MAX_DAYS:
        raise GenerateError(f"days must be between 1 and {MAX_DAYS} (ten years), got {days}")
    if not 0.0 <= match_share <= 1.0:
        raise GenerateError(f"match_share must be between 0 and 1, got {match_share}")


def generate(
    out_dir: Path,
    *,
    events: int,
    songs: int,
    days: int,
    seed: int,
    first_day: date = date(2018, 11, 1),
    match_share: float = 0.3,
) -> GenerationSummary:
    """Write song_data/ and log_data/ for `days` days from `first_day` into out_dir.

    The same arguments always give byte-identical files. A folder that already has song_data/
    or log_data/ is refused, because old and new files would mix.
    """
    _check_arguments(events, songs, days, match_share)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GenerateError(f"{out_dir} is a file; generate into a new or empty folder")
    song_data, log_data = out_dir / "song_data", out_dir / "log_data"
    for folder in (song_data, log_data):
        if folder.exists():
            raise GenerateError(f"{folder} already exists; generate into a new or empty folder")
    rng = random.Random(seed)
    jukebox = _make_jukebox(rng, song_data, songs, events, match_share)
    first_day_ms, _ = day_bounds_ms(first_day)
    population = make_population(rng, listener_count(events), first_day_ms, days * 86_400_000)
    session_ids = itertools.count(1)
    written = 0
    log_data.mkdir(parents=True)
    volumes = events_per_day(rng, events, first_day, days)
    for day, day_events in zip(
        days_in(first_day, first_day + timedelta(days)), volumes, strict=True
    ):
        day_ms, _ = day_bounds_ms(day)
        lines = day_lines(rng, jukebox, population, session_ids, day_ms, day_events)
        written += _write_lines(out_dir / day_file_key(day), lines)
    return GenerationSummary(written, songs, days, out_dir)
