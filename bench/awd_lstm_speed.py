#!/usr/bin/env python
"""Training throughput of `lesson8_nlp.awd_lstm`'s AWD-LSTM language model, optionally against fastai's.

Times full training steps (forward, cross-entropy, backward, AdamW step) on random token batches and reports
tokens/s (bs * seq_len input tokens per step). With --with-fastai (run it with a Python that has fastai, e.g.
the bench venv /work/benchvenv), fastai's `get_language_model(AWD_LSTM, ...)` is timed in the same process on
the very same batches, alternating step by step (ours first on even steps, fastai first on odd ones) so that
noise from other work on the machine hits both alike; before timing, fastai's
weights are loaded into ours and the eval-mode logits are compared.

    python bench/awd_lstm_speed.py                                   # full size (ULMFiT's WT103 LM), 2 threads
    /work/benchvenv/bin/python bench/awd_lstm_speed.py --with-fastai # ... and fastai's, same batches
    /work/benchvenv/bin/python bench/awd_lstm_speed.py --preset small --with-fastai
    python bench/awd_lstm_speed.py --steps 20 --threads 4 --json bench/out/awd.json

Presets: `full` is fastai's awd_lstm_lm_config (emb 400, hidden 1152, 3 layers) with a 10,000-token vocab,
bs 64, seq_len 72. `small` (emb 128, hidden 384, 3 layers, vocab 10,000, bs 32, seq_len 72) is a size a
2-core CPU can pretrain/fine-tune a ULMFiT-style LM with in hours rather than days.
"""
import argparse, json, statistics, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

PRESETS = {'full': dict(emb_sz=400, n_hid=1152, n_layers=3, vocab=10_000, bs=64, seq_len=72),
           'small': dict(emb_sz=128, n_hid=384, n_layers=3, vocab=10_000, bs=32, seq_len=72)}

def make_batches(n:int, bs:int, seq_len:int, vocab:int, seed:int=0) -> list:
    "`n` (x, y) batches of random token ids, y = x shifted by one."
    import torch
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        t = torch.randint(0, vocab, (bs, seq_len + 1), generator=g)
        out.append((t[:, :-1].contiguous(), t[:, 1:].contiguous()))
    return out

def train_step(model, opt, x, y) -> float:
    import torch.nn.functional as F
    logits = model(x)[0]                                             # (bs, seq_len, vocab)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward(); opt.step(); opt.zero_grad()
    return loss.item()

def timed(model, opt, batches) -> float:
    "Seconds for one training step on each batch."
    t0 = time.perf_counter()
    for x, y in batches: train_step(model, opt, x, y)
    return time.perf_counter() - t0

def build(which:str, cfg:dict, seed:int=0):
    import torch
    torch.manual_seed(seed)
    if which == 'ours':
        from lesson8_nlp.awd_lstm import awd_lstm_lm_config, get_language_model
        return get_language_model(cfg['vocab'], dict(awd_lstm_lm_config, **_model_cfg(cfg)))
    from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
    from fastai.text.models.core import get_language_model
    return get_language_model(AWD_LSTM, cfg['vocab'], dict(awd_lstm_lm_config, **_model_cfg(cfg)))

def _model_cfg(cfg:dict) -> dict: return {k: cfg[k] for k in ('emb_sz', 'n_hid', 'n_layers')}

def check_same(ours, theirs, x) -> float:
    "Load fastai's weights into ours; max |logits difference| in eval mode after reset()."
    import torch
    ours.load_state_dict(theirs.state_dict())
    for m in (ours, theirs): m.eval(); m.reset()
    with torch.no_grad(): d = (ours(x)[0] - theirs(x)[0]).abs().max().item()
    for m in (ours, theirs): m.train(); m.reset()
    return d

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', choices=list(PRESETS), default='full')
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads (default 2)')
    p.add_argument('--warmup', type=int, default=3, help='untimed steps per model first (default 3)')
    p.add_argument('--steps', type=int, default=10, help='timed steps per model (default 10)')
    p.add_argument('--with-fastai', action='store_true', help="also time fastai's AWD-LSTM LM (needs fastai)")
    p.add_argument('--json', type=str, default=None, help='also write the results to this file')
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    cfg = PRESETS[args.preset]
    names = ['ours'] + (['fastai'] if args.with_fastai else [])
    models = {n: build(n, cfg) for n in names}
    opts = {n: torch.optim.AdamW(m.parameters(), lr=1e-3) for n, m in models.items()}
    batches = make_batches(args.warmup + args.steps, cfg['bs'], cfg['seq_len'], cfg['vocab'])
    res = dict(preset=args.preset, **cfg, threads=args.threads, steps=args.steps, torch=torch.__version__)
    if args.with_fastai:
        import fastai
        res['fastai'] = fastai.__version__
        res['max_abs_logit_diff'] = check_same(models['ours'], models['fastai'], batches[0][0][:4])
        print(f"same weights, eval mode: max |ours - fastai| logits = {res['max_abs_logit_diff']:.2e}")
    for n in names:
        models[n].train(); models[n].reset()
        for x, y in batches[:args.warmup]: train_step(models[n], opts[n], x, y)
    times = {n: [] for n in names}
    for i, b in enumerate(batches[args.warmup:]):
        for n in (names if i % 2 == 0 else names[::-1]): times[n].append(timed(models[n], opts[n], [b]))
    tok = cfg['bs'] * cfg['seq_len']
    for n in names:
        secs, med = sum(times[n]), statistics.median(times[n])
        res[f'{n}_tok_s'], res[f'{n}_tok_s_median'], res[f'{n}_step_s'] = args.steps * tok / secs, tok / med, times[n]
        print(f"{n:>6}: {res[f'{n}_tok_s']:8,.0f} tokens/s (median step {tok / med:,.0f}; {secs / args.steps:.3f} s/step, {args.steps} steps, "
              f"{args.preset}: emb {cfg['emb_sz']}, hidden {cfg['n_hid']}, {cfg['n_layers']} layers, vocab {cfg['vocab']:,}, "
              f"bs {cfg['bs']}, seq_len {cfg['seq_len']}, {args.threads} threads)")
    if args.with_fastai:
        res['speedup'] = res['ours_tok_s'] / res['fastai_tok_s']
        res['speedup_median'] = res['ours_tok_s_median'] / res['fastai_tok_s_median']
        print(f"ours / fastai: {res['speedup']:.2f}x (total time), {res['speedup_median']:.2f}x (median step)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
