"""`python -m benchmarks.serve ARGS`: `cachescope ARGS`, from whichever cachescope is on the path.

The harness starts cachescope through this, so that the exporter under test has a command
line of its own: on a shared machine, a neighbour's clean-up by name (`pkill -f 'cachescope
serve'`) once stopped it mid-run.
"""

from cachescope.cli import main

if __name__ == "__main__":
    main(prog_name="cachescope")
