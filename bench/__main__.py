"""`python -m bench`: every benchmark, then bench/results/latest.json and docs/benchmarks.md."""

import sys

from bench.run_all import main

sys.exit(main())
