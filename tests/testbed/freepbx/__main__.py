import sys

from tests.testbed.freepbx.kit import main

sys.exit(main())
