"""Runs the data pipeline of Burnish and its pandas + scikit-learn peer back to back
on the same file, alternating, and prints each run and the medians.

Each run is a fresh process, so that its peak memory is its own:

    export CARGO_TARGET_DIR=/work/cargo-target   # or leave unset for ./target
    cargo build --release --workspace --features $F --bins
    /tmp/pyenv/bin/python benches/python/compare.py --runs 3

Without --csv it uses the benchmark's file in $CARGO_TARGET_DIR/bench-data (written by
the first run of `pipeline_peak` or of the criterion benchmark).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent.parent


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target"))


def measure(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    wall = float(re.search(r"wall time: ([0-9.]+) s", output).group(1))
    peak = float(re.search(r"peak RSS: ([0-9.]+) MiB", output).group(1))
    return wall, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()

    binary = target_dir() / "release" / "pipeline_peak"
    csv = args.csv or target_dir() / "bench-data" / "pipeline_1000000_rows_seed_42.csv"
    if not csv.is_file():
        subprocess.run([binary], check=True, capture_output=True)
    commands = {
        "burnish": [str(binary), str(csv)],
        "pandas+sklearn": [sys.executable, str(HERE / "pandas_peer.py"), str(csv)],
    }
    results = {name: [] for name in commands}
    for run in range(args.runs):
        for name, command in commands.items():
            wall, peak = measure(command)
            results[name].append((wall, peak))
            print(f"run {run + 1} {name:>15}: {wall:6.3f} s  {peak:7.1f} MiB", flush=True)

    file_mib = csv.stat().st_size / (1024 * 1024)
    print(f"\nfile: {csv} ({file_mib:.1f} MiB), medians of {args.runs} runs")
    print(f"{'':>15}  {'wall time':>9}  {'peak RSS':>10}  {'x file':>6}")
    for name, runs in results.items():
        wall = statistics.median(run[0] for run in runs)
        peak = statistics.median(run[1] for run in runs)
        print(f"{name:>15}  {wall:7.3f} s  {peak:6.1f} MiB  {peak / file_mib:6.2f}")


if __name__ == "__main__":
    main()
