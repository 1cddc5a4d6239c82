#!/usr/bin/env python
"""Which classifier recipe lets a language model show at few labels? One label count and seed, four recipes:
the lesson's gradual unfreezing, the head alone on the frozen encoder, the head then the top layer, and the
random start of `run_curve`; scored on a seeded random subset of the test set (a probe, not a curve).

Usage:  python bench/curve_recipes.py LM_RUN_FOLDER NAME [--labels 100] [--seed 0] [--test-docs 3000] [--threads 2]
Writes bench/results/<NAME>.json.
"""
import argparse, json, os, time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from lesson8_nlp.label_curve import CurveSettings, lm_run, stratified_subset, train_point
from lesson8_nlp.ulmfit import check_stamp, ulmfit_data

ROOT = Path(os.path.abspath(__file__)).parents[1]
RECIPES = {'lesson steps': None, 'head only': ((-1, 6, 2e-2),), 'head, then top layer': ((-1, 3, 2e-2), (-2, 3, 1e-2)),
           'random start': 'scratch'}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('lm'); p.add_argument('name')
    p.add_argument('--labels', type=int, default=100); p.add_argument('--seed', type=int, default=0)
    p.add_argument('--test-docs', type=int, default=3000); p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    cfg, pre, enc, _ = lm_run(a.lm)
    d = ulmfit_data(cfg['data'], cfg['tok'], min_freq=pre.min_freq, max_vocab=pre.max_vocab, progress=False)
    sel = np.random.default_rng(a.seed).permutation(len(d.clas_test))[:a.test_docs]
    d = replace(d, clas_test=d.clas_test[sel], y_test=d.y_test[torch.as_tensor(sel)])
    idx, out = stratified_subset(d.y_train, a.labels, a.seed), {}
    for name, steps in RECIPES.items():
        pretrained = steps != 'scratch'
        s = CurveSettings(steps=steps if pretrained else None)
        r = train_point(d, pre, s, idx, enc if pretrained else None, partial(check_stamp, file=enc, config=cfg), a.seed, 'cpu')
        out[name] = dict(steps=s.steps if pretrained else [[0, r['epochs'], s.scratch_lr]], **r)
        print(f"{name:<22} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  train loss {r['train_loss']}  {r['wall_s']}s", flush=True)
    res = dict(command=f"python bench/curve_recipes.py {a.lm} {a.name} --labels {a.labels} --seed {a.seed} "
                       f"--test-docs {a.test_docs} --threads {a.threads}", lm=Path(a.lm).name, data=cfg['data'],
               labels=a.labels, seed=a.seed, test_docs=len(sel), recipes=out)
    (ROOT/'bench/results'/f'{a.name}.json').write_text(json.dumps(res, indent=1) + '\n')

if __name__ == '__main__': main()
