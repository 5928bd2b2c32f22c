"""Allow ``python -m trialfinder``."""

from trialfinder.cli import main

if __name__ == "__main__":
    main()
