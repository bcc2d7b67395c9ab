"""Runs control periods through a Target one by one or as one batch.

The period-by-period suites (run_state, run_kalman, run_attitude) take
--batch: the same periods then go through Target.run_batch() instead of
write_value/run/read_value in a loop, and meet the same checks; --columns:
through run_batch() given one column per input. All paths must give the same
numbers bit for bit.
"""
import argparse
from typing import Any, Dict, Iterator, List, Sequence


def add_batch_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--batch", action="store_true",
                    help="run all periods with one Target.run_batch() call instead of one run() per period")
    ap.add_argument("--columns", action="store_true",
                    help="the same with run_batch() given a mapping {input: column of its values}")


def periods(tg: Any, writes: Sequence[Dict[Any, Any]], read: Any, a: argparse.Namespace) -> Iterator[Any]:
    """read_value(read) after each period; period k first writes writes[k] ({input: data})."""
    if a.columns:
        keys = list(writes[0]) if writes else []
        if any(list(w) != keys for w in writes):
            raise AssertionError("--columns needs every period to write the same inputs")
        results = tg.run_batch({v: [w[v] for w in writes] for v in keys}, read, periods=len(writes))
        if len(results) != len(writes):
            raise AssertionError(f"run_batch() returned {len(results)} results for {len(writes)} periods")
        yield from results
        return
    if a.batch:
        results: List[Any] = tg.run_batch(writes, read)
        if len(results) != len(writes):
            raise AssertionError(f"run_batch() returned {len(results)} results for {len(writes)} periods")
        yield from results
        return
    for w in writes:
        for v, x in w.items():
            tg.write_value(v, x)
        tg.run()
        yield tg.read_value(read)
