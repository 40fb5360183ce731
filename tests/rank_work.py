"""Run by tests/test_ranks.py under `torch.distributed.run` (two gloo processes): on_every_rank with a failure on
rank 1 (or none with `ok`), then from_main_process; prints what each rank saw as one JSON line."""

from __future__ import annotations

import json
import sys
import time

from accelerate import PartialState

from openrs.evaluation.ranks import RankFailure, from_main_process, on_every_rank, share_of


def main() -> None:
    state = PartialState(cpu=True)
    rank, world = state.process_index, state.num_processes
    fail = sys.argv[1] == "fail"

    def work() -> list[int]:
        if fail and rank == 1:
            raise ValueError("boom")
        time.sleep(1.0 if rank == 0 else 0.0)  # rank 0 is the slow one: rank 1 waits for it, bounded by its share
        return share_of(list(range(10)), rank, world)

    started = time.monotonic()
    try:
        seen: object = on_every_rank(work, "the test's work")
    except RankFailure as err:
        seen = f"RankFailure: {err}"
    value = from_main_process({"from": rank})
    print(json.dumps({"rank": rank, "seen": seen, "main": value, "waited_s": time.monotonic() - started}), flush=True)
    state.destroy_process_group()


if __name__ == "__main__":
    main()
