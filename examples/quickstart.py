"""The lolpop quickstart as a script: ``python examples/quickstart.py --dir quickstart``.

Same as ``lolpop quickstart --dir quickstart``; the workflow itself is ``lolpop.quickstart``.
"""

from __future__ import annotations

import argparse

from lolpop.quickstart import DEFAULT_EXPERIMENT, run_quickstart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="quickstart", help="work dir (data repo, reports, models)")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db")
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    args = parser.parse_args()
    summary = run_quickstart(args.dir, tracking_uri=args.tracking_uri, experiment=args.experiment,
                             progress=lambda step: print(f"… {step}", flush=True))
    for cycle in summary.cycles:
        print(f"cycle {cycle.cycle}: {cycle.rows} rows @ {cycle.hexsha[:10]}, winner {cycle.winner} "
              f"(accuracy {cycle.accuracy}), {cycle.status}, {cycle.predictions} predictions")
    print(f"\nLook at it: {summary.ui_command}")


if __name__ == "__main__":
    main()
