#!/usr/bin/env python
"""Reference timing: fastai 2.8's `tokenize_folder` on the same 100,000 IMDb reviews.

Run it in a separate venv that has fastai (never a dependency of lesson8_nlp), e.g.

    python -m venv bench/.venv-fastai && . bench/.venv-fastai/bin/activate
    pip install torch==2.13.0 && pip install --no-deps fastai==2.8.12 \
        && pip install fastcore fastprogress fasttransform plum-dispatch spacy pandas pillow scikit-learn \
                       scipy matplotlib requests packaging pyyaml cloudpickle fastdownload
    python bench/tokenize_imdb_fastai.py PATH/TO/imdb --workers 2 --cores 2

PATH/TO/imdb is the extracted archive (the folder `bench/tokenize_imdb.py` prints as `data:`).
Prints docs/s, total time and the peak RSS of the process tree, in the same form as tokenize_imdb.py.
"""
import argparse, os, resource, tempfile, threading, time
from pathlib import Path

def tree_rss() -> int:
    "Resident memory of this process and its descendants, in bytes."
    import psutil
    me = psutil.Process(); total = 0
    for p in [me] + me.children(recursive=True):
        try: total += p.memory_info().rss
        except psutil.Error: pass
    return total

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('path', help='the extracted imdb folder (train/, test/, unsup/)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--cores', type=int, default=2)
    args = ap.parse_args()
    if args.cores and hasattr(os, 'sched_setaffinity'):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    from fastai.text.all import SpacyTokenizer, tokenize_folder
    peak, stop = [0], threading.Event()
    def watch():
        while not stop.is_set(): peak[0] = max(peak[0], tree_rss()); stop.wait(0.05)
    th = threading.Thread(target=watch, daemon=True); th.start()
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        tokenize_folder(Path(args.path), folders=['train', 'test', 'unsup'], output_dir=Path(out) / 'tok',
                        n_workers=args.workers, tok=SpacyTokenizer('en'))
        took = time.perf_counter() - t
    stop.set(); th.join()
    n = 100_000
    print(f'fastai tokenize_folder: {n:,} docs in {took:.1f}s = {n / took:,.0f} docs/s, '
          f'peak RSS {peak[0] / 2**30:.2f} GiB (workers={args.workers})')

if __name__ == '__main__': main()
