"""Redraws the latency experiment's p99-lag chart from its CSV files.

A starting point for your own analysis of an ecsim result folder:

    python3 -m venv .venv && .venv/bin/pip install pandas matplotlib
    .venv/bin/python examples/python/lag_by_latency.py results/latency lag.png

It reads the folder's manifest for the units, takes the 99th-percentile lag
of every replication from summary.csv, and draws each pattern's mean against
the network latency, with the replications as dots. Zero lag (the
orchestrated pattern: rows are gone before the answer) has no place on a
log axis; it is drawn on a floor line labelled 0, as ecsim's own charts do.
"""

import json
import math
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

# Okabe-Ito, as in ecsim's charts.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"]
MARKERS = ["o", "^", "s", "x"]


def main(folder: pathlib.Path, out: pathlib.Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    summary = pd.read_csv(folder / "summary.csv")
    units = {
        c["name"]: c["unit"]
        for f in manifest["files"]
        if f["name"] == "summary.csv"
        for c in f["columns"]
    }
    assert units["lag_p99_s"] == "s" and units["x"] == "s", units
    positive = summary.loc[summary["lag_p99_s"] > 0, "lag_p99_s"]
    # A decade below the smallest positive lag.
    floor = 10 ** (math.floor(math.log10(positive.min())) - 1)
    fig, ax = plt.subplots(figsize=(10, 6.2), dpi=100)
    for i, (pattern, runs) in enumerate(summary.groupby("pattern", sort=False)):
        ms = runs["x"] * 1e3
        lag = runs["lag_p99_s"].clip(lower=floor)
        mean = runs.groupby("x")["lag_p99_s"].mean().clip(lower=floor)
        style = dict(color=COLOURS[i % 4], marker=MARKERS[i % 4])
        ax.plot(mean.index * 1e3, mean.values, label=pattern, linestyle=["-", "--", ":", "-."][i % 4], **style)
        ax.scatter(ms, lag, s=12, alpha=0.4, color=style["color"])
    ax.axhline(floor, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("median network latency (ms, log scale)")
    ax.set_ylabel("99th-percentile lag after the answer (s, log scale; 0 on the dashed floor)")
    ax.set_title(f"{manifest['experiment']}: 99th-percentile consistency lag, mean and replications")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    print(f"{out}: {len(summary)} runs, {summary['pattern'].nunique()} patterns, seeds {manifest['replication_seeds']}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: lag_by_latency.py RESULT_FOLDER OUT.png")
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
