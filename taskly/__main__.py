import sys

from taskly.cli import main

sys.exit(main())
