import sys

from sparkify_assets.cli.main import main

sys.exit(main())
