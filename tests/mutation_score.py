"""Print the mutation score of the last `mutmut run` and fail below the floor.

Reads mutmut's own counts (`mutmut export-cicd-stats`); the score is mutmut's:
killed (and timed-out) mutants over every mutant that was not skipped, so a
mutant no test reaches counts as a survivor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FLOOR_PERCENT = 90.0


def main() -> int:
    subprocess.run([str(Path(sys.executable).parent / "mutmut"), "export-cicd-stats"], check=True)
    stats = json.loads(Path("mutants/mutmut-cicd-stats.json").read_text())
    tested = int(stats["total"]) - int(stats.get("skipped", 0))
    killed = int(stats["killed"]) + int(stats.get("timeout", 0))
    score = 100.0 * killed / tested if tested else 0.0
    print(", ".join(f"{name} {count}" for name, count in sorted(stats.items())))
    print(f"mutation score: {killed} of {tested} mutants killed = {score:.1f}% (floor {FLOOR_PERCENT:.0f}%)")
    return 0 if score >= FLOOR_PERCENT else 1


if __name__ == "__main__":
    sys.exit(main())
