"""Allow `python -m cachescope`."""

from cachescope.cli import main

main()
