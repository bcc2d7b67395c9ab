"""What the tooling checks (check_configure, check_man, check_readme) share:
one line per check, the failures collected, and the exit status."""
import shutil
from pathlib import Path
from typing import List

failures: List[str] = []


def check(what: str, ok: bool, detail: str = "", tail: int = 4000) -> None:
    """Prints 'ok' or 'FAIL' and `what`; on failure also `detail` (its last `tail` characters)."""
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
        if detail:
            print(detail[-tail:])


def finish(work: Path) -> int:
    """The exit status: 1 if a check failed (the scratch directory `work` is
    kept to look at), else 0 with `work` removed."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0
