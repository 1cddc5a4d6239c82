#!/usr/bin/env python
"""Benchmark `lesson8_nlp.lm_data.LMDataLoader` on a synthetic IMDb-sized corpus.

Builds ~100k documents of random token ids (~30M tokens in all, lengths uniform in [50, 550]), then for each
configuration, in a fresh subprocess so that peak-memory figures do not mix, times building the loader
(concatenating the stream) and iterating one epoch, and reports tokens/s and memory: peak RSS
(resource.getrusage) and the stream's nbytes. Tokens counted are the input tokens delivered (bs * row_len).

    python bench/lm_loader.py                     # all configurations, ~30M tokens
    python bench/lm_loader.py --tokens 3e6        # smaller corpus
    python bench/lm_loader.py --one 64 72 0       # a single configuration (bs, seq_len, shuffle)
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

CONFIGS = [(64, 72, 0), (128, 80, 0), (64, 72, 1), (128, 80, 1)]  # (bs, seq_len, shuffle)
MIB = 2**20

def peak_rss() -> int:
    "Peak resident set size of this process so far, in bytes (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def rss() -> int:
    "Current resident set size, in bytes."
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

def make_corpus(n_tokens: float, seed: int = 0) -> list:
    "About `n_tokens` token ids in documents of 50..550 tokens, one tensor each (no big intermediate)."
    import torch
    g = torch.Generator().manual_seed(seed)
    n_docs = max(1, round(n_tokens / 300))                    # mean document length 300
    lens = torch.randint(50, 551, (n_docs,), generator=g).tolist()
    return [torch.randint(0, 60_000, (n,), generator=g) for n in lens]

def run_one(bs: int, seq_len: int, shuffle: bool, n_tokens: float) -> dict:
    import torch
    from lesson8_nlp.lm_data import LMDataLoader
    torch.set_num_threads(1)
    base = rss()
    corpus = make_corpus(n_tokens)
    corpus_bytes = sum(t.nbytes for t in corpus)
    after_corpus, peak_corpus = rss(), peak_rss()
    t0 = time.perf_counter()
    dl = LMDataLoader(corpus, bs=bs, seq_len=seq_len, shuffle=shuffle)
    t1 = time.perf_counter()
    n_tok, n_b = 0, 0
    for x, y in dl: n_tok += x.numel(); n_b += 1
    t2 = time.perf_counter()
    return dict(bs=bs, seq_len=seq_len, shuffle=bool(shuffle), docs=len(corpus), tokens=len(dl.stream),
                batches=n_b, tokens_read=n_tok, build_s=t1 - t0, epoch_s=t2 - t1,
                tok_per_s_epoch=n_tok / (t2 - t1), tok_per_s_with_build=n_tok / (t2 - t0),
                stream_mib=dl.stream.nbytes / MIB, corpus_mib=corpus_bytes / MIB,
                rss_base_mib=base / MIB, rss_after_corpus_mib=after_corpus / MIB, rss_end_mib=rss() / MIB,
                peak_corpus_mib=peak_corpus / MIB, peak_rss_mib=peak_rss() / MIB,
                loader_peak_mib=(peak_rss() - max(peak_corpus, after_corpus)) / MIB)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tokens', type=float, default=30e6, help='corpus size in tokens (default 30M)')
    p.add_argument('--one', nargs=3, type=int, metavar=('BS', 'SEQ_LEN', 'SHUFFLE'), help='run one config')
    a = p.parse_args()
    if a.one:
        print(json.dumps(run_one(*a.one, n_tokens=a.tokens)))
        return
    print(f'LMDataLoader, synthetic corpus of ~{a.tokens / 1e6:.0f}M tokens, one epoch per configuration '
          f'(each in its own process)')
    head = (f"{'bs':>4} {'sl':>3} {'shuf':>4} {'tokens':>11} {'batches':>7} {'build s':>7} {'epoch s':>7} "
            f"{'Mtok/s epoch':>12} {'Mtok/s +build':>13} {'stream MiB':>10} {'corpus MiB':>10} "
            f"{'base RSS MiB':>12} {'peak RSS MiB':>12} {'loader peak MiB':>15}")
    print(head); print('-' * len(head))
    for bs, sl, sh in CONFIGS:
        out = subprocess.run([sys.executable, __file__, '--tokens', str(a.tokens), '--one', str(bs), str(sl), str(sh)],
                             capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['bs']:>4} {r['seq_len']:>3} {str(r['shuffle']):>4} {r['tokens']:>11,} {r['batches']:>7,} "
              f"{r['build_s']:>7.2f} {r['epoch_s']:>7.3f} {r['tok_per_s_epoch'] / 1e6:>12,.0f} "
              f"{r['tok_per_s_with_build'] / 1e6:>13,.1f} {r['stream_mib']:>10.1f} {r['corpus_mib']:>10.1f} "
              f"{r['rss_base_mib']:>12.1f} {r['peak_rss_mib']:>12.1f} {r['loader_peak_mib']:>15.1f}")
    print('\nbase RSS: the process with torch imported, before the corpus; peak RSS: the high-water mark.')
    print('Mtok/s epoch: iterating the batches only (shuffle=True includes the reshuffle at the start of the '
          'epoch).\nMtok/s +build: including building the loader (torch.cat of the documents).\n'
          'loader peak MiB: peak RSS growth once the corpus was built, i.e. what the loader itself needed.')

if __name__ == '__main__': main()
