#!/usr/bin/env python3
"""make soak: podserve under mixed load and faults for a set time (30 minutes by default), then a verdict against
the reliability targets. Not part of `make test`.

  soak.py serve    --binary build/release/podserve --model M [--minutes 30] [--out build/soak]
  soak.py endpoint --binary build/release/podserve --model M [--minutes 30] [--out build/soak]
  soak.py all      ... (serve, then endpoint)

Writes <out>/serve.{json,svg} and <out>/endpoint.{json,svg}: RSS, open fds, threads, KV blocks in use, queue and
errors sampled every 10 s, with the summary (growth over the last 20 minutes, 5xx, errors, idle KV, lost and
duplicated jobs). Exits 1 when a target is missed.
"""

import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soak_endpoint  # noqa: E402
import soak_serve  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", choices=["serve", "endpoint", "all"])
    p.add_argument("--binary", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    p.add_argument("--out", default="build/soak")
    p.add_argument("--users", type=int, default=12, help="concurrent clients (serve) / submitters (endpoint: 4)")
    p.add_argument("--sample-s", type=float, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--kv-cache-memory", type=float, default=0.06,
                   help="serve's KV pool in GiB: small, so concurrent long requests preempt each other")
    p.add_argument("--min-preemptions", type=int, default=1,
                   help="serve: fail unless the engine preempted at least this often (0: a run not meant to preempt)")
    p.add_argument("--idle-every", type=float, default=300, help="serve: seconds between idle checks")
    p.add_argument("--endpoint-restart-every", type=float, default=600)
    p.add_argument("--drain-s", type=float, default=600, help="endpoint: how long accepted jobs may take to end")
    args = p.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise (runpod sets up logging)
    ok = True
    for target, module in (("serve", soak_serve), ("endpoint", soak_endpoint)):
        if args.target not in (target, "all"):
            continue
        if target == "endpoint" and args.users == 12:
            args.users = 4
        summary = module.run(args)
        print(json.dumps({k: v for k, v in summary.items() if k != "error_details"}, indent=1))
        print(f"{target}: report in {args.out}/{target}.json and {args.out}/{target}.svg")
        ok &= all(summary["pass"].values())
    print("soak: all targets met" if ok else "soak: TARGETS MISSED (see the pass table above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
