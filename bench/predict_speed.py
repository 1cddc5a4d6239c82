#!/usr/bin/env python
"""Batch prediction and `predict` latency: lesson8_nlp against fastai 2.8.12, side by side, the same call in both.

    python bench/predict_speed.py PATH/TO/imdb --fastai-python bench/.venv-fastai/bin/python --threads 2

PATH/TO/imdb is the extracted IMDb archive (train/, test/). Each library runs in its own process (fastai in its
own venv, see bench/tokenize_imdb_fastai.py for how to make it): `TextDataLoaders.from_df` on 2,000 training
reviews (the vocab), `text_classifier_learner(dls, AWD_LSTM, config=<emb 100, hidden 256, 2 layers>,
pretrained=False, max_len=400)` (the `cpu` preset's sizes; random weights: speed does not depend on them), then
`get_preds(dl=dls.test_dl(texts))` over the test reviews (tokenizing included) and `predict` on single reviews.
Writes bench/results/predict_speed.json (or --json).
"""
import argparse, json, os, platform, statistics, subprocess, sys, time
from pathlib import Path

SIZES = dict(emb_sz=100, n_hid=256, n_layers=2)

def read_reviews(path: Path, split: str, n: int | None) -> tuple[list[str], list[str]]:
    "Texts and labels of `path/split/{neg,pos}/*.txt`, sorted by file name; the first `n` of an even shuffle."
    import random
    files = sorted(f for lab in ('neg', 'pos') for f in (path/split/lab).glob('*.txt'))
    random.Random(0).shuffle(files)
    files = files[:n] if n else files
    return [f.read_text(encoding='utf-8') for f in files], [f.parent.name for f in files]

def child(args):
    import pandas as pd, torch
    torch.set_num_threads(args.threads)
    tr_texts, tr_labels = read_reviews(Path(args.path), 'train', 2000)
    te_texts, _ = read_reviews(Path(args.path), 'test', args.n)
    df = pd.DataFrame({'text': tr_texts, 'label': tr_labels})
    if args.impl == 'fastai':
        from fastai.text.all import AWD_LSTM, TextDataLoaders, awd_lstm_clas_config, text_classifier_learner
        dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.1, seed=0, bs=64)
    else:
        from lesson8_nlp.all import AWD_LSTM, TextDataLoaders, awd_lstm_clas_config, text_classifier_learner
        dls = TextDataLoaders.from_df(df, text_col='text', label_col='label', valid_pct=0.1, seed=0, bs=64, progress=False)
    torch.manual_seed(0)
    learn = text_classifier_learner(dls, AWD_LSTM, config=dict(awd_lstm_clas_config, **SIZES), pretrained=False, max_len=400)
    bar = learn.no_bar() if args.impl == 'fastai' else None
    if bar: bar.__enter__()
    t0 = time.perf_counter()
    dl = dls.test_dl(te_texts)
    t1 = time.perf_counter()
    probs = learn.get_preds(dl=dl)[0]
    t2 = time.perf_counter()
    lat = []
    for t in te_texts[:args.n_predict]:
        s = time.perf_counter(); learn.predict(t); lat.append(time.perf_counter() - s)
    if bar: bar.__exit__(None, None, None)
    extra = {}
    if args.impl == 'ours':                          # our one-call form: cut to the model's max_len, as the run's loaders do
        s = time.perf_counter(); learn.predict_texts(te_texts); extra['predict_texts_s'] = round(time.perf_counter() - s, 2)
        extra['predict_texts_docs_per_s'] = round(len(te_texts) / extra['predict_texts_s'], 1)
    vocab = dls.vocab[0] if args.impl == 'fastai' else dls.vocab       # fastai's: (text vocab, classes)
    print(json.dumps(dict(impl=args.impl, vocab=len(vocab), n=len(te_texts), shape=list(probs.shape),
                          test_dl_s=round(t1 - t0, 2), get_preds_s=round(t2 - t1, 2), total_s=round(t2 - t0, 2),
                          docs_per_s=round(len(te_texts) / (t2 - t0), 1),
                          predict_median_ms=round(1000 * statistics.median(lat), 1), **extra)))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('path', help='the extracted imdb folder')
    ap.add_argument('--n', type=int, default=25000, help='test reviews to label (default all 25,000)')
    ap.add_argument('--n-predict', type=int, default=50, help='single reviews timed with predict')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--fastai-python', default='bench/.venv-fastai/bin/python')
    ap.add_argument('--json', default='bench/results/predict_speed.json')
    ap.add_argument('--impl', choices=['ours', 'fastai'], default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.impl: return child(args)
    res = {}
    for impl, py in (('fastai', args.fastai_python), ('ours', sys.executable)):
        cmd = [py, __file__, args.path, '--impl', impl, '--n', str(args.n), '--n-predict', str(args.n_predict),
               '--threads', str(args.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res[impl] = json.loads(out.strip().splitlines()[-1]); print(res[impl], flush=True)
    res['speedup_docs_per_s'] = round(res['ours']['docs_per_s'] / res['fastai']['docs_per_s'], 2)
    res['speedup_predict_texts'] = round(res['ours']['predict_texts_docs_per_s'] / res['fastai']['docs_per_s'], 2)
    res['speedup_predict'] = round(res['fastai']['predict_median_ms'] / res['ours']['predict_median_ms'], 2)
    res['command'] = f'python bench/predict_speed.py <imdb> --n {args.n} --threads {args.threads}'
    res['machine'] = f'{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}'
    Path(args.json).write_text(json.dumps(res, indent=1) + '\n')
    print(f"batch: ours {res['speedup_docs_per_s']}x fastai's docs/s (predict_texts {res['speedup_predict_texts']}x); "
          f"predict: {res['speedup_predict']}x")

if __name__ == '__main__': main()
