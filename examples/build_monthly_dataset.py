"""Build the synthetic monthly forecasting dataset (GluonTS layout) for examples/time_series_monthly.yaml, offline:
150 series of 20 years, a yearly cycle, trend and noise, 3 rolling windows of 12 months; the same for the same seed.

    python examples/build_monthly_dataset.py [OUT_DIR] [--seed N]      # default: examples/data/monthly
"""

import argparse
from pathlib import Path

from harnesses.forecasting.monthly_data import build_monthly_dataset

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent / "data" / "monthly")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(build_monthly_dataset(args.out, seed=args.seed))
