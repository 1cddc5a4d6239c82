#!/usr/bin/env python
"""Training speed and loss of `lesson8_nlp.awd_lstm`'s AWD-LSTM language model in fp32 and bf16, against fastai's.

One run times, on the very same batches, three models that start from the same weights:
  fp32    ours, in fp32;
  bf16    ours under `lesson8_nlp.learner.MixedPrecision`'s autocast (bf16 forward and loss, fp32 weights);
  fastai  fastai's `get_language_model(AWD_LSTM, ...)` in fp32 (fastai's default on a CPU);
  bf16_dec (with --lstm-fp32) ours with the LSTMs in fp32 and only the decoder and loss in bf16.
A training step is forward, cross-entropy, backward and an AdamW step; tokens/s counts the bs * seq_len input
tokens of each step. The models take turns step by step (the order rotates), so that load from other work on the
machine hits all of them alike, and every model's step i draws the same dropout masks (the seed is set per step).
The batches are a synthetic stream with structure to learn (Zipf-distributed tokens, each with a few successors),
so the losses after a fixed number of steps mean something: fp32 and bf16 are compared on a fixed held-out batch.
With --parts, the forward + backward time of the LSTM stack and of the decoder + loss are timed on their own in
fp32 and under autocast, to show where the bf16 gain comes from.

Where PyTorch has no bf16 LSTM on this CPU (`lesson8_nlp.learner.bf16_lstm_works('cpu')` is False: oneDNN refuses
it on CPUs without avx512_bf16/AMX, e.g. AVX2-only ones), the bf16 run is skipped with a note, fp32 and fastai (and
bf16_dec, whose LSTMs stay fp32) are reported alone, and --parts times the LSTMs in fp32 only.

fastai is imported from the running Python, or else from the Python named by --fastai-python or, without it, by the
FASTAI_PYTHON environment variable; that Python then runs the whole benchmark (it needs torch, tqdm, matplotlib and
fastai). With neither, pass --no-fastai. To make such a Python in a folder of your choice, $VENV:

    python -m venv $VENV
    $VENV/bin/pip install torch==2.13.0 tqdm         # the CPU build, the same torch as the project's
    $VENV/bin/pip install --no-deps fastai==2.8.12
    $VENV/bin/pip install fastcore fastprogress fastdownload fasttransform plum-dispatch pandas \\
        matplotlib pillow packaging pyyaml requests scipy scikit-learn

Usage:

    FASTAI_PYTHON=$VENV/bin/python python bench/awd_lstm_speed.py --threads 2 --parts   # full and small size
    python bench/awd_lstm_speed.py --sizes small --steps 20 --no-fastai

The results go to --json (default bench/results/awd_lstm_speed.json); they name no path outside the checkout.

Run it on an otherwise idle machine and note the load average (it is in the JSON): on a 2-core box with a load
of ~4 from other work, oneDNN's bf16 LSTM timed up to 2.7x *slower* than fp32, while on the idle box it was 1.45x
faster.

Sizes: `full` is fastai's awd_lstm_lm_config (emb 400, hidden 1152, 3 layers), `small` the cpu preset's
(emb 100, hidden 256, 2 layers); both with a 10,000-token vocab, bs 64, seq_len 72.
"""
import argparse, json, os, platform, shlex, statistics, sys, time
from pathlib import Path

ROOT = Path(os.path.abspath(__file__)).parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not

SIZES = {'full': dict(emb_sz=400, n_hid=1152, n_layers=3, vocab=10_000, bs=64, seq_len=72, warmup=2, steps=8),
         'small': dict(emb_sz=100, n_hid=256, n_layers=2, vocab=10_000, bs=64, seq_len=72, warmup=3, steps=30)}
LR = 1e-2  # Adam's rate for a short run from scratch: enough steps to move the loss

def _rel(p) -> str:
    "`p` relative to the checkout when it is inside it (no machine paths in the results)."
    p = Path(os.path.abspath(p))                                       # abspath, not resolve: symlinks kept as they are
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name

def make_batches(n:int, bs:int, seq_len:int, vocab:int, seed:int=0, n_next:int=8) -> list:
    "`n` (x, y) batches (bs, seq_len) cut from one stream: each token has `n_next` successors, drawn Zipf-weighted."
    import torch
    g = torch.Generator().manual_seed(seed)
    zipf = 1 / torch.arange(1, vocab + 1, dtype=torch.float)              # a few tokens are frequent, most rare
    succ = torch.multinomial(zipf, vocab * n_next, replacement=True, generator=g).view(vocab, n_next)  # successors
    w = 1 / torch.arange(1, n_next + 1, dtype=torch.float)                 # Zipf weights over them
    t = torch.empty(n * bs * seq_len + 1, dtype=torch.long)
    t[0] = 0
    picks = torch.multinomial(w, len(t) - 1, replacement=True, generator=g)
    for i in range(1, len(t)): t[i] = succ[t[i - 1], picks[i - 1]]
    xs, ys = t[:-1].view(n, bs, seq_len), t[1:].view(n, bs, seq_len)
    return [(x.contiguous(), y.contiguous()) for x, y in zip(xs, ys)]

def build(which:str, cfg:dict):
    "A fresh language model: ours (fp32/bf16) or fastai's."
    mcfg = {k: cfg[k] for k in ('emb_sz', 'n_hid', 'n_layers')}
    if which == 'fastai':
        from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
        from fastai.text.models.core import get_language_model
        return get_language_model(AWD_LSTM, cfg['vocab'], dict(awd_lstm_lm_config, **mcfg))
    from lesson8_nlp.awd_lstm import awd_lstm_lm_config, get_language_model
    return get_language_model(cfg['vocab'], dict(awd_lstm_lm_config, **mcfg))

def precision_ctx(run:str):
    "bf16: the autocast `MixedPrecision` opens around each batch's forward and loss; fp32 otherwise."
    from contextlib import nullcontext
    from lesson8_nlp.learner import MixedPrecision
    return MixedPrecision(enabled=True).autocast('cpu') if run == 'bf16' else nullcontext()

def forward_loss(run:str, model, x, y):
    "Logits (bs, seq_len, vocab) and loss of `model` on (x, y); `bf16_dec`: the LSTMs in fp32, only decoder and loss in bf16."
    import torch.nn.functional as F
    if run == 'bf16_dec':
        h = model[0](x)                                                # (bs, seq_len, emb_sz), fp32
        with precision_ctx('bf16'): logits = model[1](h)[0]
    else:
        with precision_ctx(run): logits = model(x)[0]
    return logits, F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))

def train_step(run:str, model, opt, x, y, seed:int) -> float:
    import torch
    torch.manual_seed(seed)                                            # the same dropout masks for every model
    loss = forward_loss(run, model, x, y)[1]
    loss.backward(); opt.step(); opt.zero_grad()
    return loss.item()

def eval_loss(run:str, model, x, y) -> float:
    "Loss on a held-out batch in eval mode, from a fresh state, in the run's own precision."
    import torch
    model.eval(); model.reset()
    with torch.no_grad(): loss = forward_loss(run, model, x, y)[1].item()
    model.train(); model.reset()
    return loss

def max_logit_diff(a, b, x) -> float:
    "Max |logits difference| of two models in eval mode (fp32) after reset()."
    import torch
    for m in (a, b): m.eval(); m.reset()
    with torch.no_grad(): d = (a(x)[0] - b(x)[0]).abs().max().item()
    for m in (a, b): m.train(); m.reset()
    return d

def time_parts(cfg:dict, reps:int=4, lstm_bf16:bool=True) -> dict:
    "Best-of-`reps` seconds of forward + backward of the LSTM stack alone, and of decoder + loss alone, in fp32 and bf16 (LSTMs: if `lstm_bf16`)."
    import torch, torch.nn.functional as F
    torch.manual_seed(0)
    model = build('fp32', cfg); enc, dec = model[0], model[1]
    bs, sl = cfg['bs'], cfg['seq_len']
    emb = torch.randn(bs, sl, cfg['emb_sz'], requires_grad=True)      # (bs, sl, emb_sz): the LSTMs' input
    y = torch.randint(0, cfg['vocab'], (bs * sl,))
    def lstms():
        out = emb
        for rnn in enc.rnns: out = rnn(out)[0]                         # (bs, sl, n_out(l))
        return out.float().sum()
    def decoder():
        logits = dec(emb)[0]                                           # (bs, sl, vocab)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)
    ts = {f'{name}_{run}': [] for name in ('lstm', 'decoder') for run in ('fp32', 'bf16')}
    for rep in range(reps + 1):                                        # alternate, so that load hits both alike
        for name, f in (('lstm', lstms), ('decoder', decoder)):
            for run in (('fp32', 'bf16') if rep % 2 else ('bf16', 'fp32')):
                if name == 'lstm' and run == 'bf16' and not lstm_bf16: continue
                t0 = time.perf_counter()
                with precision_ctx(run): out = f()
                out.backward(); model.zero_grad(); emb.grad = None
                if rep: ts[f'{name}_{run}'].append(time.perf_counter() - t0)
    res = {f'{k}_s': min(v) if v else None for k, v in ts.items()}     # best of `reps`: the least disturbed
    for name in ('lstm', 'decoder'):
        res[f'{name}_speedup'] = res[f'{name}_fp32_s'] / res[f'{name}_bf16_s'] if res[f'{name}_bf16_s'] else None
    if lstm_bf16:
        with torch.autocast('cpu', dtype=torch.bfloat16): res['lstm_out_dtype_under_autocast'] = str(enc.rnns[0](emb)[0].dtype)
    else: res['lstm_out_dtype_under_autocast'] = None                 # no bf16 LSTM on this CPU: not timed
    return res

def bench_size(size:str, cfg:dict, runs:list, warmup:int, steps:int, parts:bool, lstm_bf16:bool=True) -> dict:
    import torch
    torch.manual_seed(0)
    models = {'fastai' if 'fastai' in runs else 'fp32': build('fastai' if 'fastai' in runs else 'fp32', cfg)}
    ref = next(iter(models.values()))
    for r in runs:
        if r not in models: models[r] = build(r, cfg); models[r].load_state_dict(ref.state_dict())  # the same start
    opts = {r: torch.optim.AdamW(m.parameters(), lr=LR, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01) for r, m in models.items()}
    batches = make_batches(warmup + steps + 1, cfg['bs'], cfg['seq_len'], cfg['vocab'], seed=0)
    held_out, batches = batches[-1], batches[:-1]
    res = dict(cfg, warmup=warmup, steps=steps, tokens_per_step=cfg['bs'] * cfg['seq_len'])
    if 'fastai' in runs: res['max_abs_logit_diff_vs_fastai'] = max_logit_diff(models['fp32'], models['fastai'], batches[0][0][:4])
    times, losses = {r: [] for r in runs}, {r: [] for r in runs}
    for m in models.values(): m.train(); m.reset()
    for i, (x, y) in enumerate(batches):
        order = runs[i % len(runs):] + runs[:i % len(runs)]               # rotate who goes first
        for r in order:
            t0 = time.perf_counter()
            losses[r].append(train_step(r, models[r], opts[r], x, y, seed=1000 + i))
            if i >= warmup: times[r].append(time.perf_counter() - t0)
    tok = res['tokens_per_step']
    for r in runs:
        res[r] = dict(tok_s=steps * tok / sum(times[r]), tok_s_median=tok / statistics.median(times[r]),
                      step_s=[round(t, 4) for t in times[r]], first_loss=losses[r][0], last_train_loss=losses[r][-1],
                      held_out_loss=eval_loss(r, models[r], *held_out))
    for r in runs:
        if r != 'fastai' and 'fastai' in runs: res[f'{r}_vs_fastai'] = res[r]['tok_s'] / res['fastai']['tok_s']
        if r.startswith('bf16'):
            res[f'{r}_vs_fp32'] = res[r]['tok_s'] / res['fp32']['tok_s']
            res[f'{r}_held_out_loss_rel_diff'] = (res[r]['held_out_loss'] - res['fp32']['held_out_loss']) / res['fp32']['held_out_loss']
    if parts: res['parts'] = time_parts(cfg, lstm_bf16=lstm_bf16)
    return res

def _print(size:str, res:dict, runs:list):
    c = res
    print(f"\n{size}: emb {c['emb_sz']}, hidden {c['n_hid']}, {c['n_layers']} layers, vocab {c['vocab']:,}, bs {c['bs']} x {c['seq_len']}, "
          f"{c['steps']} timed steps after {c['warmup']}")
    if 'max_abs_logit_diff_vs_fastai' in c: print(f"  same weights, eval mode: max |ours - fastai| logits = {c['max_abs_logit_diff_vs_fastai']:.2e}")
    for r in runs:
        o = c[r]
        print(f"  {r:>6}: {o['tok_s']:8,.0f} tok/s (median step {o['tok_s_median']:,.0f})  loss {o['first_loss']:.4f} -> "
              f"{o['last_train_loss']:.4f} (train), held-out {o['held_out_loss']:.4f}")
    ratios = [f"{k} {c[k]:.2f}x" for r in runs for k in (f'{r}_vs_fastai', f'{r}_vs_fp32') if k in c]
    diffs = [f"{k[:-len('_held_out_loss_rel_diff')]} {100 * v:+.2f}%" for k, v in c.items() if k.endswith('_held_out_loss_rel_diff')]
    print(f"  speed: {', '.join(ratios)}; held-out loss vs fp32: {', '.join(diffs)}")
    if 'parts' in c:
        p = c['parts']
        lstm = (f"{p['lstm_bf16_s']:.3f}s bf16 ({p['lstm_speedup']:.2f}x, output {p['lstm_out_dtype_under_autocast']})"
                if p['lstm_bf16_s'] is not None else 'no bf16 LSTM on this CPU')
        print(f"  fwd+bwd alone: LSTMs {p['lstm_fp32_s']:.3f}s fp32 / {lstm}; decoder+loss {p['decoder_fp32_s']:.3f}s / "
              f"{p['decoder_bf16_s']:.3f}s ({p['decoder_speedup']:.2f}x)")

def _fastai_python(arg:str|None) -> Path|None:
    "The Python to run the benchmark with fastai: `arg` (--fastai-python), else $FASTAI_PYTHON, else None."
    p = arg or os.environ.get('FASTAI_PYTHON')
    return Path(p) if p else None

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', default='full,small', help='comma-separated, of: ' + ', '.join(SIZES))
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads (default 2)')
    p.add_argument('--warmup', type=int, default=None, help='untimed first steps (default: per size, full 2, small 3)')
    p.add_argument('--steps', type=int, default=None, help='timed steps (default: per size, full 8, small 30)')
    p.add_argument('--parts', action='store_true', help='also time the LSTMs and the decoder alone, fp32 vs bf16')
    p.add_argument('--no-fastai', action='store_true', help="leave out fastai's model")
    p.add_argument('--lstm-fp32', action='store_true', help="also run `bf16_dec`: ours with the LSTMs in fp32, decoder and loss in bf16")
    p.add_argument('--fastai-python', default=None, help='a Python with fastai 2.8 to run the benchmark (default: $FASTAI_PYTHON)')
    p.add_argument('--json', default=str(ROOT/'bench/results/awd_lstm_speed.json'), help='where to write the results')
    args = p.parse_args()
    sizes = [s.strip() for s in args.sizes.split(',') if s.strip()]
    bad = [s for s in sizes if s not in SIZES]
    if bad: p.error(f"--sizes: unknown size(s) {bad}; choose from {list(SIZES)}")
    for name in ('threads', 'warmup', 'steps'):
        v = getattr(args, name)
        if v is not None and v < (0 if name == 'warmup' else 1): p.error(f"--{name} must be >= {0 if name == 'warmup' else 1}, got {v}")
    runs = ['fp32', 'bf16'] + (['bf16_dec'] if args.lstm_fp32 else []) + ([] if args.no_fastai else ['fastai'])
    if not args.no_fastai:
        try: import fastai  # noqa: F401
        except ImportError:
            py = _fastai_python(args.fastai_python)
            if py is None: p.error("fastai is not importable here: pass --fastai-python or set FASTAI_PYTHON to a Python "
                                   "with fastai 2.8 (see the docstring), or use --no-fastai")
            if not py.exists(): p.error(f"the fastai Python {py} does not exist")
            if os.path.abspath(sys.executable) == os.path.abspath(py): p.error(f"{py} cannot import fastai: install fastai==2.8.12 in it")
            os.execv(str(py), [str(py), __file__, *sys.argv[1:]])      # run the whole benchmark there
    import torch
    from lesson8_nlp.learner import BF16_CPU_FLAGS, bf16_lstm_works, bf16_supported, cpu_flags
    torch.set_num_threads(args.threads)
    lstm_bf16, notes = bf16_lstm_works('cpu'), []
    if not lstm_bf16:                                                  # oneDNN has no bf16 LSTM here: it would crash
        runs.remove('bf16')
        notes.append("bf16 skipped: PyTorch's nn.LSTM fails under a bf16 autocast on this CPU "
                     f"(bf16_supported('cpu') = {bf16_supported('cpu')}; oneDNN needs avx512_bf16 or AMX), so fp32"
                     f"{' and fastai are' if 'fastai' in runs else ' is'} reported alone"
                     f"{' (bf16_dec keeps its LSTMs in fp32)' if 'bf16_dec' in runs else ''}")
    out = dict(command=shlex.join(['python', _rel(__file__), *sys.argv[1:]]), python=platform.python_version(),
               torch=torch.__version__, threads=args.threads, cpu_capability=torch.backends.cpu.get_cpu_capability(),
               cpu_bf16_flags=sorted(set(BF16_CPU_FLAGS) & cpu_flags()), bf16_supported_cpu=bf16_supported('cpu'),
               bf16_lstm_cpu=lstm_bf16, runs=runs, notes=notes, loadavg_start=os.getloadavg(), lr=LR, sizes={})
    if 'fastai' in runs:
        import fastai; out['fastai'] = fastai.__version__
    print(f"torch {torch.__version__}{', fastai ' + out['fastai'] if 'fastai' in out else ''}, {args.threads} threads, "
          f"bf16_supported('cpu') = {out['bf16_supported_cpu']}, load average {out['loadavg_start'][0]:.2f}")
    for n in notes: print(f'note: {n}')
    t0 = time.perf_counter()
    for s in sizes:
        cfg = SIZES[s]
        warmup = cfg['warmup'] if args.warmup is None else args.warmup
        steps = cfg['steps'] if args.steps is None else args.steps
        cfg = {k: v for k, v in cfg.items() if k not in ('warmup', 'steps')}
        out['sizes'][s] = bench_size(s, cfg, runs, warmup, steps, args.parts, lstm_bf16)
        _print(s, out['sizes'][s], runs)
    out['wall_s'], out['loadavg_end'] = round(time.perf_counter() - t0, 1), os.getloadavg()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.json).with_suffix('.tmp')
    tmp.write_text(json.dumps(out, indent=1)); tmp.replace(args.json)   # never a half-written result
    print(f"\n{out['wall_s']:.0f} s; load average at the end {out['loadavg_end'][0]:.2f}; written to {_rel(args.json)}")

if __name__ == '__main__': main()
