import sys

from emobench.cli import main

sys.exit(main())
