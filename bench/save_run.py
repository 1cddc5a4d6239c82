#!/usr/bin/env python
"""Keep a finished `lesson8 ulmfit` run's figures: its report.json, the command that produced it and the machine
it ran on, as one JSON file in bench/results/ (the notebooks render their tables from these files).

Usage:  python bench/save_run.py RUN_FOLDER NAME --command "lesson8 ulmfit ..." [--time-log LOG]
  --time-log: the output of `/usr/bin/time -v` for the run, for its wall time and peak RSS.
Run it on the machine that made the run: it records the CPU, its core count and whether it computes bf16 natively.
"""
import argparse, json, os, platform, re, sys
from pathlib import Path

from lesson8_nlp.learner import bf16_supported   # whether the presets' `amp` ran the run under bf16 autocast here

ROOT = Path(os.path.abspath(__file__)).parents[1]

def time_figures(log:str) -> dict:
    "Wall time (s) and peak RSS (MB) from `/usr/bin/time -v` output."
    out = {}
    if m := re.search(r'Maximum resident set size \(kbytes\): (\d+)', log): out['peak_rss_mb'] = round(int(m[1]) / 1024, 1)
    if m := re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)', log):
        out['wall_s'] = round(int(m[1] or 0) * 3600 + int(m[2]) * 60 + float(m[3]), 1)
    return out

def cpu_name() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor()

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run', help='the run folder (holding report.json)')
    p.add_argument('name', help='the results file is bench/results/<name>.json')
    p.add_argument('--command', required=True, help='the command that made the run')
    p.add_argument('--time-log', help='`/usr/bin/time -v` output of the run')
    a = p.parse_args()
    rep = json.loads((Path(a.run)/'report.json').read_text())
    res = dict(command=a.command, cpu=cpu_name(), cores=os.cpu_count(), bf16=bf16_supported('cpu'), python=sys.version.split()[0],
               **(time_figures(Path(a.time_log).read_text()) if a.time_log else {}), report=rep)
    dest = ROOT/'bench/results'/f'{a.name}.json'
    dest.write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n')
    print('wrote', dest.relative_to(ROOT))

if __name__ == '__main__': main()
