"""The pandas + scikit-learn peer of the `data_pipeline` benchmark.

Times the same work as `run_pipeline` in `benches/src/lib.rs` on the same file:
`pandas.read_csv`, then a `ColumnTransformer` fitted and applied to every row
(median `SimpleImputer` + `StandardScaler` on the 15 numeric columns,
most-frequent `SimpleImputer` + `OneHotEncoder(handle_unknown="ignore")` on the
5 categorical ones), and a `LabelEncoder` on the target. Prints the wall time
and the process's peak resident memory (`ru_maxrss`).

Run it in a fresh process for each measurement, since the peak memory of a
process never goes down:

    python3 -m venv /tmp/pyenv && /tmp/pyenv/bin/pip install pandas scikit-learn
    /tmp/pyenv/bin/python benches/python/pandas_peer.py PATH/TO/pipeline_1000000_rows_seed_42.csv
"""

import argparse
import os
import resource
import time

import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

TARGET = "target"


def run_pipeline(path):
    """Returns the features, the encoded targets and the seconds spent in read_csv."""
    start = time.perf_counter()
    frame = pd.read_csv(path)
    read_seconds = time.perf_counter() - start
    numeric = [name for name in frame.columns if name.startswith("num_")]
    categorical = [name for name in frame.columns if name.startswith("cat_")]
    transformer = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ]
    )
    features = transformer.fit_transform(frame)
    targets = LabelEncoder().fit_transform(frame[TARGET])
    return features, targets, read_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the CSV file written by the Rust benchmark")
    args = parser.parse_args()

    start = time.perf_counter()
    features, targets, read_seconds = run_pipeline(args.path)
    wall = time.perf_counter() - start

    # Linux reports ru_maxrss in KiB.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    file_bytes = os.path.getsize(args.path)
    mib = 1024 * 1024
    print(f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}")
    print(f"file size: {file_bytes / mib:.1f} MiB")
    print(
        f"output: {features.shape[0]} rows x {features.shape[1]} features "
        f"({features.dtype}), {len(targets)} targets"
    )
    print(f"wall time: {wall:.3f} s (read_csv {read_seconds:.3f} s, the rest {wall - read_seconds:.3f} s)")
    print(f"peak RSS: {peak / mib:.1f} MiB ({peak / file_bytes:.2f} x the file size)")


if __name__ == "__main__":
    main()
