#!/usr/bin/env python
"""How detectable are a run's generated reviews? `detection_experiment` (nbs/23_generated_text) for one or more
finished `lesson8 ulmfit` run folders, each against real test reviews of its own data, into bench/results/NAME.json
(rendered by the notebook).

Usage:  python bench/detect_generated.py NAME RUN [RUN ...] [--n 300] [--n-words 60] [--temps 0.5 1.0 1.5]
  RUN: a run folder whose forward language model has finished (e.g. `lesson8 ulmfit ... --until lm_fwd`).
"""
import argparse, json, os, shlex, sys, time
from pathlib import Path

import torch

from lesson8_nlp.generated import detection_experiment
from lesson8_nlp.ulmfit import RunState, ulmfit_data
from save_run import cpu_name  # this folder's

ROOT = Path(os.path.abspath(__file__)).parents[1]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('name', help='the results file is bench/results/<name>.json')
    p.add_argument('runs', nargs='+', help='run folders (forward language model finished)')
    p.add_argument('--n', type=int, default=300, help='real and generated reviews each')
    p.add_argument('--n-words', type=int, default=60, help='tokens per review')
    p.add_argument('--temps', type=float, nargs='+', default=[0.5, 1.0, 1.5], help='sampling temperatures')
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    res = dict(command='python bench/detect_generated.py ' + ' '.join(map(shlex.quote, sys.argv[1:])),
               cpu=cpu_name(), threads=a.threads, runs={})
    real_docs = {}  # (data, tok) -> test reviews as token lists: read once for every run on the same data
    for run in a.runs:
        t0, config = time.perf_counter(), RunState(Path(run), {}).old['config']
        key = (config['data'], config['tok'])
        if key not in real_docs:
            d = ulmfit_data(*key, progress=False)
            real_docs[key] = [d.corpus[int(i)] for i in d.clas_test]
        real = real_docs[key]
        res['runs'][Path(run).name] = dict(data=config['data'], preset=config['preset'],
                                           **detection_experiment(run, real, a.temps, a.n, a.n_words),
                                           wall_s=round(time.perf_counter() - t0, 1))
        print(Path(run).name, json.dumps(res['runs'][Path(run).name], ensure_ascii=False)[:400])
    dest = ROOT/'bench/results'/f'{a.name}.json'
    dest.write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n')
    print('wrote', dest.relative_to(ROOT))

if __name__ == '__main__': main()
