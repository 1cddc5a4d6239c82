#!/usr/bin/env python
"""Benchmark: tokenize all 100,000 IMDb reviews (train, test, unsup) with lesson8_nlp's word tokenizer.

    python bench/tokenize_imdb.py --workers 2 --cores 2 [--archive-dir ../shared/data] [--check 2000]

Prints documents per second, the total time, the CPU time of the process tree (less sensitive to a busy
machine), the peak memory (RSS) of the whole process tree, and the time of a second run that reads the
on-disk cache. `--cores N` pins this process and its workers to N CPUs (Linux);
`--check N` compares N random documents with plain spaCy (rules, then `nlp.pipe`) to confirm the output.
"""
import argparse
import json
import os
import random
import resource
import tempfile
import threading
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from lesson8_nlp.download import untar_data, URLs
from lesson8_nlp.corpus import tokenize_folder
from lesson8_nlp.tokenizers import SpacyTokenizer, Tokenizer

FOLDERS = ['train', 'test', 'unsup']

def tree_rss() -> int:
    "Resident memory of this process and all its descendants, in bytes (Linux /proc)."
    try:
        import psutil
        me = psutil.Process()
        procs = [me] + me.children(recursive=True)
        total = 0
        for p in procs:
            try: total += p.memory_info().rss
            except psutil.Error: pass
        return total
    except ImportError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def cpu_seconds() -> float:
    "CPU time (user + system) of this process and of its finished children: a figure that a busy machine changes less."
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

class PeakRSS:
    "Sample `tree_rss()` every `every` seconds in a thread; `.peak` is the largest value seen."
    def __init__(self, every: float = 0.05): self.every, self.peak, self._stop = every, 0, threading.Event()
    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss()); self._stop.wait(self.every)
    def __enter__(self):
        self._t = threading.Thread(target=self._run, daemon=True); self._t.start(); return self
    def __exit__(self, *exc):
        self._stop.set(); self._t.join(); self.peak = max(self.peak, tree_rss())

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--workers', type=int, default=2, help='worker processes (default 2)')
    ap.add_argument('--cores', type=int, default=2, help='pin to this many CPUs (0: no pinning; default 2)')
    ap.add_argument('--archive-dir', default=os.environ.get('LESSON8_DATA', '../shared/data'),
                    help='folder holding imdb.tgz (default $LESSON8_DATA or ../shared/data)')
    ap.add_argument('--dest', default=None, help='where to extract the archive (default: the lesson8 cache)')
    ap.add_argument('--cache-dir', default=None, help='tokenization cache (default: a temporary folder)')
    ap.add_argument('--check', type=int, default=0, help='compare this many random documents with plain spaCy')
    args = ap.parse_args()

    if args.cores and hasattr(os, 'sched_setaffinity'):
        cpus = sorted(os.sched_getaffinity(0))[:args.cores]
        os.sched_setaffinity(0, cpus)
        print(f'pinned to CPUs {cpus}')
    t = time.perf_counter()
    path = untar_data(URLs.IMDB, archive_dir=args.archive_dir, dest=args.dest)
    print(f'data: {path} (ready in {time.perf_counter() - t:.1f}s, not counted)')

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache_dir or tmp)
        with PeakRSS() as mem:
            t, cpu0 = time.perf_counter(), cpu_seconds()
            corpus = tokenize_folder(path, folders=FOLDERS, n_workers=args.workers, cache_dir=cache)
            first, cpu = time.perf_counter() - t, cpu_seconds() - cpu0
        t = time.perf_counter()
        again = tokenize_folder(path, folders=FOLDERS, n_workers=args.workers, cache_dir=cache, progress=False)
        rerun = time.perf_counter() - t
        cache_mb = sum(f.stat().st_size for f in cache.glob('tokens-*.npz')) / 2**20
    same = (again.vocab == corpus.vocab and (again.ids == corpus.ids).all() and (again.offsets == corpus.offsets).all())
    res = dict(docs=len(corpus), tokens=int(len(corpus.ids)), distinct=len(corpus.vocab), workers=args.workers,
               cores=args.cores, seconds=round(first, 2), cpu_seconds=round(cpu, 1),
               docs_per_s=round(len(corpus) / first),
               peak_rss_gb=round(mem.peak / 2**30, 3), rerun_from_cache_s=round(rerun, 2), rerun_identical=bool(same),
               cache_mb=round(cache_mb, 1), skipped=len(corpus.skipped))
    if args.check:
        idx = sorted(random.Random(0).sample(range(len(corpus)), min(args.check, len(corpus))))
        ref = Tokenizer(SpacyTokenizer())([corpus.items[i].read_text(encoding='utf-8') for i in idx])
        res['checked'] = len(idx)
        res['check_mismatches'] = sum(corpus[i] != r for i, r in zip(idx, ref))
    print(f"{res['docs']:,} docs, {res['tokens']:,} tokens ({res['distinct']:,} distinct) in {first:.1f}s "
          f"= {res['docs_per_s']:,} docs/s on {args.workers} workers ({cpu:.0f} CPU s); "
          f"peak RSS {res['peak_rss_gb']} GB; "
          f"re-run from cache {rerun:.2f}s (identical: {same})")
    print(json.dumps(res))

if __name__ == '__main__':
    main()
