"""``python -m tools.diagrams [OUT]``: draw every diagram (into ``chapters/diagrams/`` by default)."""

import sys
from pathlib import Path

from tools.diagrams import OUT, write_all

if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path)
