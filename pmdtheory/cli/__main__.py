import sys

from pmdtheory.cli import main

sys.exit(main())
