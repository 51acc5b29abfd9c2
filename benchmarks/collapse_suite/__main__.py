import sys

from benchmarks.collapse_suite.run import main

sys.exit(main())
