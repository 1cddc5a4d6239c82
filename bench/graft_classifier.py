#!/usr/bin/env python
"""Re-run the classifier of a finished `lesson8 ulmfit` run with other classifier settings, on the same language model.

The language model stage is the expensive part of a run (40 of the `cpu` preset's 58 minutes on IMDb), and a
classifier setting changes the run's configuration digest, so `lesson8 ulmfit` would train it again. The classifier
stages start from `set_seed(seed)`, so they do not depend on the LM stage's random state: this script copies the
run's `baselines` and `lm_<dirn>` records and its encoder into OUT under the new configuration (the encoder stamped
with it), then lets `run_ulmfit` train the classifier steps and the ablation there as a fresh run would.
Only classifier settings may change; the LM's are refused.

Usage:  python bench/graft_classifier.py RUN OUT --set steps='[[-1,1,0.02],[0,3,0.005]]' [--set ...] [--threads 2] [--save NAME]
Prints the stage table; OUT/report.json holds the report. Run it again on the same OUT to resume an interrupted graft. --save NAME also keeps it as bench/results/NAME.json in
`bench/save_run.py`'s format; its wall time is the stages' recorded times (the grafted LM stage's included).
"""
import argparse, json, os, sys, time
from pathlib import Path

import torch

from lesson8_nlp.cli import _preset_value
from lesson8_nlp.run_folder import config_stamp
from lesson8_nlp.safe_files import atomic_write, load_state
from lesson8_nlp.ulmfit import report_table, run_ulmfit
from lesson8_nlp.ulmfit_presets import preset_params
from save_run import ROOT, cpu_name

CLAS_FIELDS = {'clas_bs', 'clas_drop_mult', 'max_len', 'valid_docs', 'lr_spread', 'steps', 'ablation_steps'}

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run'); p.add_argument('out')
    p.add_argument('--set', type=_preset_value, action='append', default=[], metavar='KEY=VALUE')
    p.add_argument('--direction', default='fwd'); p.add_argument('--threads', type=int, default=2)
    p.add_argument('--save', metavar='NAME', help='also write bench/results/NAME.json')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    old = json.loads((Path(a.run)/'state.json').read_text())
    cfg, sets = old['config'], dict(a.set)
    if bad := sorted(set(sets) - CLAS_FIELDS): sys.exit(f"only classifier settings may change ({sorted(CLAS_FIELDS)}), not {bad}")
    if cfg.get('pretrained') or cfg.get('own_data'): sys.exit("a run from pretrained weights or own data is not supported here")
    lm = f'lm_{a.direction}'
    if lm not in old['done']: sys.exit(f"{a.run} has no finished {lm} stage")
    base = preset_params(cfg['preset']).to_json()
    overrides = {k: v for k, v in cfg['params'].items() if v != base[k]} | sets   # what the old run changed, then ours
    params = preset_params(cfg['preset'], overrides).to_json()
    new = dict(cfg, params=params)
    out = Path(a.out)
    if not (out/'state.json').exists():                  # a new graft; else run_ulmfit resumes it (or refuses another configuration)
        out.mkdir(parents=True, exist_ok=False)
        enc = load_state(Path(a.run)/f'enc_{a.direction}.pth', what='an encoder file')
        with atomic_write(out/f'enc_{a.direction}.pth') as f: torch.save({**enc, **config_stamp(new)}, f)
        done = {k: old['done'][k] for k in ('baselines', lm)}
        with atomic_write(out/'state.json', 'w') as f: json.dump(dict(config=new, done=done), f, indent=1)
    t0 = time.perf_counter()
    rep = run_ulmfit(cfg['data'], cfg['preset'], a.direction, 'cpu', cfg['tok'], out=out, seed=cfg['seed'],
                     overrides=overrides, progress=False)
    print(f"grafted on {lm} of {a.run}; classifier settings {json.dumps(sets)}; {time.perf_counter() - t0:.0f} s")
    print(report_table(rep).to_string())
    if a.save:
        sets_args = ' '.join(f"--set '{k}={json.dumps(v)}'" for k, v in a.set)
        res = dict(command=f"python bench/graft_classifier.py {a.run} {a.out} {sets_args} --threads {a.threads}",
                   grafted_on=f"the {lm} stage of {a.run} (lesson8 ulmfit --data {cfg['data']} --preset {cfg['preset']})",
                   cpu=cpu_name(), cores=os.cpu_count(), python=sys.version.split()[0], peak_rss_mb=rep['peak_rss_mb'],
                   wall_s=round(rep['data_wall_s'] + rep['total_stage_wall_s'], 1), report=rep)
        dest = ROOT/'bench/results'/f'{a.save}.json'
        dest.write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n'); print('wrote', dest.relative_to(ROOT))

if __name__ == '__main__': main()
