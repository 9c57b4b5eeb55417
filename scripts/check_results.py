"""Loads every committed result the way an analyst would, with default options.

Run by scripts/ci-python.sh in a virtual environment with pandas and polars:
- every CSV in every folder under results/ loads with pandas and with polars;
- the summaries of all bundled experiments concatenate, in both, with no
  type error (polars' default concat is strict: same columns, same types);
- the columns the data contract types as numbers read as numbers, and seeds
  as 64-bit integers, in both readers.
"""

import json
import pathlib
import sys

import pandas as pd
import polars as pl

ROOT = pathlib.Path(__file__).resolve().parent.parent / "results"


def main() -> int:
    csvs = sorted(ROOT.glob("*/*.csv"))
    if len(csvs) < 50:
        print(f"only {len(csvs)} CSV files under {ROOT}", file=sys.stderr)
        return 1
    for path in csvs:
        pd.read_csv(path)
        pl.read_csv(path)
    summaries = sorted(p for p in ROOT.glob("*/summary.csv") if (p.parent / "manifest.json").exists())
    frames = [pl.read_csv(p) for p in summaries]
    together = pl.concat(frames)
    pandas_together = pd.concat([pd.read_csv(p) for p in summaries], ignore_index=True)
    assert together.height == pandas_together.shape[0]
    for name, want in [("x", pl.Float64), ("y", pl.Float64), ("seed", pl.Int64), ("replication", pl.Int64)]:
        got = together.schema[name]
        assert got == want, f"summary column {name}: {got}, want {want}"
    assert str(pandas_together["seed"].dtype) == "int64", pandas_together["seed"].dtype
    assert str(pandas_together["x"].dtype) == "float64", pandas_together["x"].dtype
    # Every column the manifest types as a number reads as one in polars.
    for manifest in sorted(ROOT.glob("*/manifest.json")):
        m = json.loads(manifest.read_text())
        for f in m["files"]:
            if "columns" not in f:
                continue
            frame = pl.read_csv(manifest.parent / f["name"])
            if frame.height == 0:
                # No rows, nothing to infer a type from: the header is the contract.
                assert frame.columns == [c["name"] for c in f["columns"]]
                continue
            for c in f["columns"]:
                dtype = frame.schema[c["name"]]
                if c["type"] == "number":
                    assert dtype.is_numeric(), f"{manifest.parent.name}/{f['name']}: {c['name']} is {dtype}"
                if c["type"] == "integer":
                    assert dtype.is_integer(), f"{manifest.parent.name}/{f['name']}: {c['name']} is {dtype}"
    print(
        f"{len(csvs)} CSV files load with pandas {pd.__version__} and polars {pl.__version__}; "
        f"{len(summaries)} summaries concatenate into {together.height} rows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
