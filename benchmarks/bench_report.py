"""What ``bench.py`` prints and saves: medians, both floor ratios, stages, CPU and peak RSS."""

from __future__ import annotations

import os

from benchmarks.harness import MIB, Measurement, median, print_table, spread


def summarize(
    args,
    big: list[Measurement],
    tiny: list[Measurement],
    floor: list[Measurement],
    plain: list[Measurement],
    songs: int,
) -> dict:
    marginal = [b.seconds - t.seconds for b, t in zip(big, tiny, strict=True)]
    ratios = [m / f.seconds for m, f in zip(marginal, floor, strict=True)]
    songs_step = [b.stages.get("staging_songs", float("nan")) for b in big]
    peak = {
        "sparkify largest process (ru_maxrss)": max(m.max_rss_kernel for m in big + tiny),
        "sparkify tree, sum (sampled)": max(m.peaks["sparkify"].total for m in big + tiny),
        "postgres largest process (sampled)": max(
            m.peaks["postgres"].largest for m in big + tiny + floor + plain
        ),
        "postgres all processes, sum (sampled)": max(
            m.peaks["postgres"].total for m in big + tiny + floor + plain
        ),
    }
    loads = [m.load_average for m in big + tiny + floor + plain]
    return {
        "data": {
            "events": args.events,
            "songs": args.songs,
            "days": args.days,
            "seed": args.seed,
            "tiny_events": args.tiny_events,
        },
        "cpus": os.cpu_count(),
        "plain_floor_seconds": [p.seconds for p in plain],
        "plain_floor_stages": {
            stage: [p.stages[stage] for p in plain] for stage in plain[0].stages
        },
        "plain_ratio": median(marginal) / median(p.seconds for p in plain),
        "floor_seconds": [f.seconds for f in floor],
        "floor_stages": {stage: [f.stages[stage] for f in floor] for stage in floor[0].stages},
        "load_seconds": [b.seconds for b in big],
        "tiny_load_seconds": [t.seconds for t in tiny],
        "marginal_seconds": marginal,
        "ratio": median(marginal) / median(f.seconds for f in floor),
        "ratios_per_repetition": ratios,
        "load_stages": {
            stage: [b.stages.get(stage, float("nan")) for b in big] for stage in big[0].stages
        },
        "load_cpu_seconds": [b.cpu_seconds for b in big],
        "cpu": {
            "floor (postgres)": [f.server_cpu_seconds for f in floor],
            "big (sparkify + postgres)": [b.cpu_seconds + b.server_cpu_seconds for b in big],
            "tiny (sparkify + postgres)": [t.cpu_seconds + t.server_cpu_seconds for t in tiny],
            "marginal = big - tiny": [
                b.cpu_seconds + b.server_cpu_seconds - t.cpu_seconds - t.server_cpu_seconds
                for b, t in zip(big, tiny, strict=True)
            ],
        },
        "songs_files_per_second": median(songs / seconds for seconds in songs_step),
        "peak_rss_mib": {name: value / MIB for name, value in peak.items()},
        "load_average_1min": {"min": min(loads), "median": median(loads), "max": max(loads)},
    }


def report(summary: dict) -> None:
    data = summary["data"]
    print(
        f"\n=== {data['events']:,} events, {data['songs']:,} songs, {data['days']} days "
        f"({summary['cpus']} CPUs; 1-min load average during runs "
        f"{summary['load_average_1min']['min']:.1f} .. {summary['load_average_1min']['max']:.1f},"
        f" median {summary['load_average_1min']['median']:.1f}) ==="
    )
    print_table(
        "plain floor: COPY of pre-parsed rows + hand-written plain SQL, no keys (seconds)",
        [
            *summary["plain_floor_stages"].items(),
            ("plain floor total", summary["plain_floor_seconds"]),
        ],
    )
    print_table(
        "replay floor: COPY of pre-parsed rows + this project's own build SQL (seconds)",
        [
            *summary["floor_stages"].items(),
            ("floor total", summary["floor_seconds"]),
        ],
    )
    print_table(
        "sparkify load, Dagster steps of the big run (seconds)",
        list(summary["load_stages"].items()),
    )
    print_table(
        "sparkify load (seconds)",
        [
            (f"big ({data['events']:,} events)", summary["load_seconds"]),
            (f"tiny ({data['tiny_events']:,} events)", summary["tiny_load_seconds"]),
            ("marginal = big - tiny", summary["marginal_seconds"]),
        ],
    )
    print_table(
        "CPU seconds (less sensitive to other load than wall time)", list(summary["cpu"].items())
    )
    cpu = summary["cpu"]
    print(
        f"\n  CPU ratio marginal / floor: "
        f"{median(cpu['marginal = big - tiny']) / median(cpu['floor (postgres)']):.2f}"
    )
    print(
        f"\n  HEADLINE ratio marginal / plain floor: {summary['plain_ratio']:.2f} (medians; "
        "target <= 1.5)"
    )
    print(
        f"  ratio marginal / replay floor: {summary['ratio']:.2f} (medians)   per repetition: "
        f"{spread(summary['ratios_per_repetition'])}, median "
        f"{median(summary['ratios_per_repetition']):.2f}   (target <= 1.5)"
    )
    print(
        f"  song files per second (staging_songs step): "
        f"{summary['songs_files_per_second']:,.0f}   (target >= 5,000)"
    )
    print("\npeak RSS (MiB; target: every process <= 512)")
    for name, value in summary["peak_rss_mib"].items():
        print(f"  {name:<40} {value:8.1f}")
