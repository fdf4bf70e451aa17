"""How raw Sparkify JSON spells values, and the words synthetic songs and users are made of.

Values in the log files are written as the public sample writes them: ASCII only, ``/`` escaped as
``\\/``, and non-ASCII names as double mojibake. The word lists are made up; the first names and
listener locations are the kind the public sample has.
"""

from __future__ import annotations

import json
import random

_LOG_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ensure_ascii stays on, as in the logs


SONG_ENCODER = json.JSONEncoder()  # Python's defaults are exactly the song files' format


def log_json(value: str | float | None) -> str:
    """One value as the log files spell it: ASCII only, and '/' escaped as '\\/'."""
    return _LOG_ENCODER.encode(value).replace("/", "\\/")


def double_mojibake(text: str) -> str:
    """Spell text like the public logs do: UTF-8 bytes read as Latin-1, twice. ASCII is kept."""
    for _ in range(2):
        text = text.encode("utf-8").decode("latin-1")
    return text


_ADJECTIVES = tuple(
    "Electric Silent Golden Broken Midnight Velvet Crimson Lonely Wild Hollow Neon Paper "
    "Burning Frozen Secret Distant Sweet Restless Silver Faded Endless Savage Gentle Little "
    "Blue Cosmic Bitter Holy Lazy Wicked Quiet Northern Summer Winter Rusty Shiny Crooked "
    "Lucky Stolen Hidden Radiant Dusty Heavy Tender Atomic".split()
)


_NOUNS = tuple(
    "Heart River Highway Dream Fire Moon Garden Mirror Shadow Ocean City Storm Light Road "
    "Window Kingdom Rain Echo Machine Island Letter Horizon Train Angel Ghost Thunder Valley "
    "Sky Diamond Harbor Radio Satellite Forest Desert Signal Tide Lantern Bridge Engine "
    "Parade Feather Comet Candle Tiger Wolf".split()
)


_PHRASES = (
    "Hold Me",
    "Take Me Home",
    "Don't Let Go",
    "Run Away",
    "Come Back",
    "Dance With Me",
    "Wait For Me",
    "Fall Into",
    "Dreaming Of",
    "Call Me",
    "Tell Me Why",
    "Say It Again",
    "Never Leave",
    "Bring Back",
    "Follow the",
    "Chasing the",
    "Waiting on the",
    "Lost In the",
)


_VERSION_TAGS = ("Live", "Remix", "Acoustic", "Radio Edit", "Album Version", "Demo", "Remastered")


_COLLECTIVES = tuple(
    "Band Orchestra Collective Trio Quartet Project Experience Ensemble Brothers Sisters Club "
    "Society".split()
)


MALE_NAMES = tuple(
    "Walter Kevin Jacob Ryan Aiden Jayden Tegan Lucas Noah Ethan Mason Logan Elijah Caleb "
    "Dylan Connor Austin Wyatt Owen Isaac Samuel Henry Adrian Colin Damian Oliver Miles "
    "Jordan Evan Theo".split()
)


FEMALE_NAMES = tuple(
    "Kaylee Lily Chloe Jacqueline Tegan Sara Layla Ava Emma Olivia Sophia Isabella Mia Amelia "
    "Harper Evelyn Abigail Ella Scarlett Grace Hailey Aubrey Zoey Nora Riley Stella Hannah "
    "Violet Claire".split()
)


LAST_NAMES = tuple(
    "Frye Summers Koch Arellano Levine Lynch Cruz Griffin Jones Robertson Harrell Moore "
    "Taylor Anderson Thomas Jackson White Harris Martin Thompson Garcia Martinez Robinson "
    "Clark Rodriguez Lewis Lee Walker Hall Allen Young King Wright Lopez Hill Scott Green "
    "Adams Baker Gonzalez Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell "
    "Parker Evans".split()
)


# Proper Unicode goes into the song files; the log spells these names as mojibake.
UNICODE_STAGE_NAMES = (
    "Björk",
    "Sigur Rós",
    "Röyksopp",
    "Mötley Crüe",
    "Beyoncé",
    "Motörhead",
    "Café Tacvba",
    "Maná",
    "Zoé",
    "Françoise Hardy",
    "Édith Piaf",
    "Jóhann Jóhannsson",
    "Sinéad O'Connor",
    "Habib Koité",
    "Bebel Gilberto e Seu Jorge",
    "Los Niños Cantores",
    "Caetano Veloso & Gal Costa",
)


_UNICODE_FIRST_NAMES = tuple("José Zoé Björn Sinéad Françoise Jóhann Søren Inés".split())


_UNICODE_LAST_NAMES = tuple("González Müller Sørensen Núñez Öztürk Lindström Ibáñez".split())


_UNICODE_TITLE_WORDS = (
    "Corazón",
    "Canción",
    "Mañana",
    "Été",
    "Déjà Vu",
    "Façade",
    "Niño",
    "Über Alles",
    "Straße",
    "São Paulo",
    "Crème Brûlée",
    "Smörgåsbord",
    "Naïve",
    "Señorita",
    "Résumé",
    "Ça Va",
)


ARTIST_LOCATIONS = (
    "Dubai UAE",
    "California - LA",
    "Nashville, TN.",
    "London, England",
    "New York, NY",
    "Chicago, IL",
    "Seattle, WA",
    "Austin, TX",
    "Detroit, MI",
    "Atlanta, GA",
    "Kingston, Jamaica",
    "Berlin, Germany",
    "Paris, France",
    "Toronto, Ontario, Canada",
    "Melbourne, Australia",
    "Manchester, England",
    "Glasgow, Scotland",
    "Dublin, Ireland",
    "Stockholm, Sweden",
    "Los Angeles/Hollywood",
    "Brooklyn, NY",
    "São Paulo, Brazil",
    "Reykjavík, Iceland",
    "Montréal, Québec",
    "Zürich, Switzerland",
    "Bogotá, Colombia",
)


LISTENER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA",
    "Portland-South Portland, ME",
    "Lansing-East Lansing, MI",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Waterloo-Cedar Falls, IA",
    "Lake Havasu City-Kingman, AZ",
    "San Jose-Sunnyvale-Santa Clara, CA",
    "Tampa-St. Petersburg-Clearwater, FL",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Harrisburg-Carlisle, PA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Houston-The Woodlands-Sugar Land, TX",
    "Los Angeles-Long Beach-Anaheim, CA",
    "Seattle-Tacoma-Bellevue, WA",
    "Columbia, SC",
    "Birmingham-Hoover, AL",
    "Red Bluff, CA",
    "Detroit-Warren-Dearborn, MI",
    "Winston-Salem, NC",
    "Dallas-Fort Worth-Arlington, TX",
    "Miami-Fort Lauderdale-West Palm Beach, FL",
)


USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) "
    "Version/7.0.6 Safari/537.78.2",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/37.0.2062.94 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 "
    "(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
)


def made_up_title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return _unicode_title(rng)
    if roll < 0.45:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if roll < 0.75:
        return f"{rng.choice(_PHRASES)} {rng.choice(_NOUNS)}"
    if roll < 0.9:
        return f"{rng.choice(_NOUNS)} of {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} ({rng.choice(_VERSION_TAGS)})"


def _unicode_title(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"¿Dónde va {rng.choice(FEMALE_NAMES + MALE_NAMES)}?"
    return f"{rng.choice(_UNICODE_TITLE_WORDS)} {rng.choice(_NOUNS)}"


def made_up_artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(UNICODE_STAGE_NAMES)
    if roll < 0.05:
        return f"{rng.choice(_UNICODE_FIRST_NAMES)} {rng.choice(_UNICODE_LAST_NAMES)}"
    if roll < 0.3:
        return f"{rng.choice(MALE_NAMES + FEMALE_NAMES)} {rng.choice(LAST_NAMES)}"
    if roll < 0.5:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    if roll < 0.65:
        return f"{rng.choice(MALE_NAMES + FEMALE_NAMES)} & The {rng.choice(_NOUNS)}s"
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_COLLECTIVES)}"


def random_duration(rng: random.Random) -> float:
    # Five decimals, like every duration and length in the public sample.
    return round(rng.uniform(20.0, 600.0), 5)
