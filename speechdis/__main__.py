import sys

from speechdis.cli import main

sys.exit(main())
