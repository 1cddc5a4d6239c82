#!/usr/bin/env python
"""Accuracy of the lesson's six HUMAN_NUMBERS language models (LMModel1..6) against the lesson's figures.

Trains every model with the lesson's recipe (`lesson8_nlp.human_numbers.numbers_benchmark`: hidden size 64,
batches of 64, fit_one_cycle with the lesson's epochs and learning rates) once per seed, prints the final
validation accuracies, their median beside the lesson's single-run figure, the "always thousand" baseline and
the wall time. CPU-only is fine: all 18 runs take about 1.5 minutes on 2 idle cores.

The lesson's figures are single runs. Runs differ by several points from seed to seed (LMModel6: 0.64 to 0.80
over seeds 0-2), so the table compares the median over seeds; a median a little below a lesson figure is
within that spread, a median far below it (or below the baseline) is a bug.

    python bench/numbers_accuracy.py                             # 6 models x seeds 0,1,2
    python bench/numbers_accuracy.py --models LMModel1 LMModel6 --seeds 0 1 2 3 4
    python bench/numbers_accuracy.py --epochs 2 --json bench/out/numbers.json
    python bench/numbers_accuracy.py --strict                    # exit 1 if a median is below the lesson's figure
"""
import argparse, json, os, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=None, help='model names (default: all six)')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='one run per seed (default 0 1 2)')
    p.add_argument('--epochs', type=int, default=None, help="epochs per run (default: the lesson's per model)")
    p.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    p.add_argument('--json', type=Path, default=None, help='also write the results to this JSON file')
    p.add_argument('--strict', action='store_true', help="exit with status 1 if a median is below the lesson's figure")
    a = p.parse_args()

    import pandas as pd
    import torch
    from lesson8_nlp.human_numbers import LESSON_ACCURACY, numbers_benchmark, numbers_table
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    res = numbers_benchmark(a.models, a.seeds, a.epochs)
    wall = time.perf_counter() - t0
    res['wall_s'], res['threads'], res['torch'] = wall, a.threads, torch.__version__

    print(f"HUMAN_NUMBERS, lesson recipes{'' if a.epochs is None else f', {a.epochs} epoch(s) per run'}, "
          f"seeds {a.seeds}, torch {torch.__version__} on {a.threads} CPU thread(s)")
    with pd.option_context('display.width', 200, 'display.max_columns', 20):
        print(numbers_table(res).to_string(na_rep=''))
    short = [n for n, r in res['models'].items() if n in LESSON_ACCURACY and r['median'] < LESSON_ACCURACY[n]]
    print(f"\nper-model time: " + ', '.join(f"{n} {r['seconds']:.0f}s" for n, r in res['models'].items()))
    print(f'wall time: {wall:.1f} s')
    print('medians below the lesson figure: ' + (', '.join(short) if short else 'none'))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = a.json.with_name(f'.{a.json.name}.tmp')
        tmp.write_text(json.dumps(res, indent=2))
        os.replace(tmp, a.json)  # atomic
        print(f'wrote {a.json}')
    if a.strict and short: sys.exit(1)

if __name__ == '__main__': main()
