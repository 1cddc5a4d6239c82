#!/usr/bin/env python
"""The GPU check of ULMFiT (issue #12): one JSON file from one short run on one CUDA device.

1. `tiny`: `run_ulmfit` on the 1,000-review sample, the tiny preset, both directions, on CUDA under bf16
   mixed precision (`amp`): wall time, the report's test accuracies (forward, backward, ensemble).
2. `throughput`: the paper-size AWD-LSTM (400/1152/3, 60k vocab) as a language model (bs 128 x 72) and as the
   classifier (bs 128, documents of 400 tokens in 72-token chunks), trained for a fixed number of steps on
   synthetic ids, in fp32 and bf16: tokens/s and the peak GPU memory of each.
3. `torchrun`: `torchrun --nproc_per_node=1 -m lesson8_nlp ulmfit` (the tiny preset, forward) on the same device:
   the distributed path (NCCL, DistributedDataParallel, the shards, rank 0's writes) on a group of one.

Usage (from a checkout, with the package installed):  bash bench/gpu_check.sh [out.json]
Run it with LESSON8_DATA pointing at a folder holding imdb_sample.tgz if the machine has no internet.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import torch

ROOT = Path(os.path.abspath(__file__)).parents[1]
sys.path.insert(0, str(ROOT))

from lesson8_nlp.awd_lstm import get_language_model
from lesson8_nlp.distributed import torchrun_cmd
from lesson8_nlp.learner import set_seed
from lesson8_nlp.ulmfit import PRESETS, run_ulmfit
from lesson8_nlp.ulmfit_classifier import clas_config, get_text_classifier

def tiny_run(device:str) -> dict:
    "The tiny preset, both directions, bf16 on `device`: wall time and test accuracies."
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rep = run_ulmfit('sample', 'tiny', 'both', device, out=Path(tmp)/'run', progress=False, overrides=dict(amp=True))
    return dict(wall_s=round(time.perf_counter() - t0, 1), test_accuracy=rep['test_accuracy'], device=rep['device'],
                vocab_size=rep['vocab_size'], stages=sorted(rep['stages']))

def torchrun_one(device:str, timeout:int=240) -> dict:
    "The tiny preset, forward, through `torchrun --nproc_per_node=1 -m lesson8_nlp` on `device`: wall time and test accuracy."
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(torchrun_cmd(1, '-m', 'lesson8_nlp', 'ulmfit', '--data', 'sample', '--preset', 'tiny',
                                          '--device', device, '--out', f'{tmp}/run'), capture_output=True, text=True, timeout=timeout)
        if res.returncode: return dict(returncode=res.returncode, stderr=res.stderr[-2000:])
        rep = json.loads(Path(f'{tmp}/run/report.json').read_text())
    return dict(wall_s=round(time.perf_counter() - t0, 1), processes=rep.get('processes'), device=rep['device'],
                test_accuracy=rep['test_accuracy'])

def _time_steps(model, make_batch, loss_fn, steps:int, warmup:int, amp:bool, device) -> dict:
    "Train `model` for `warmup` + `steps` steps; tokens/s over the timed ones and the peak memory."
    opt, cuda = torch.optim.AdamW(model.parameters(), 1e-3), torch.device(device).type == 'cuda'
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    if cuda: torch.cuda.reset_peak_memory_stats(device)
    n_tok, t0 = 0, None
    for i in range(warmup + steps):
        if i == warmup: sync(); t0 = time.perf_counter()
        x, y = make_batch()
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model(x), y)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if hasattr(model[0], 'reset'): model[0].reset()
        if i >= warmup: n_tok += x.numel()
    sync(); dt = time.perf_counter() - t0
    return dict(tok_s=round(n_tok / dt), step_s=round(dt / steps, 4), loss=round(float(loss), 4),
                peak_mem_gb=round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None)

def throughput(device:str, steps:int, warmup:int, vocab:int=60_000, bs:int=128) -> dict:
    "Paper-size LM and classifier training speed, fp32 and bf16."
    cfg, sl = PRESETS['paper'].config, 72
    gen = torch.Generator(device).manual_seed(0)
    def ids(*shape): return torch.randint(2, vocab, shape, device=device, generator=gen)
    ce = torch.nn.functional.cross_entropy
    res = dict(config=dict(cfg), vocab=vocab)
    for amp in (False, True):
        set_seed(0)
        lm = get_language_model(vocab, cfg, 1.0).to(device)
        res[f'lm_{"bf16" if amp else "fp32"}'] = _time_steps(
            lm, lambda: (ids(bs, sl), ids(bs, sl)), lambda out, y: ce(out[0].float().view(-1, vocab), y.view(-1)),
            steps, warmup, amp, device)
        del lm
        set_seed(0)
        clas = get_text_classifier(vocab, 2, clas_config(cfg), 0.5, seq_len=sl, max_len=sl * 20).to(device)
        res[f'clas_{"bf16" if amp else "fp32"}'] = _time_steps(
            clas, lambda: (ids(bs, 400), torch.randint(0, 2, (bs,), device=device, generator=gen)),
            lambda out, y: ce(out[0].float(), y), steps, warmup, amp, device)
        del clas
    res['lm_bf16_vs_fp32'] = round(res['lm_bf16']['tok_s'] / res['lm_fp32']['tok_s'], 2)
    res['clas_bf16_vs_fp32'] = round(res['clas_bf16']['tok_s'] / res['clas_fp32']['tok_s'], 2)
    return res

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--json', default=str(ROOT/'bench/results/gpu_check.json'), help='where to write the results')
    p.add_argument('--device', default='cuda', help="a CUDA device (default 'cuda')")
    p.add_argument('--steps', type=int, default=20, help='timed training steps per model and precision')
    p.add_argument('--warmup', type=int, default=3, help='untimed first steps')
    a = p.parse_args()
    if not torch.cuda.is_available(): sys.exit('gpu_check: no CUDA device here (torch.cuda.is_available() is False)')
    out = dict(command=' '.join(['bench/gpu_check.py', *sys.argv[1:]]), torch=torch.__version__,
               gpu=torch.cuda.get_device_name(a.device), date=time.strftime('%Y-%m-%d'))
    t0 = time.perf_counter()
    out['tiny'] = tiny_run(a.device)
    print('tiny:', json.dumps(out['tiny']), flush=True)
    out['throughput'] = throughput(a.device, a.steps, a.warmup)
    print('throughput:', json.dumps(out['throughput']), flush=True)
    out['torchrun'] = torchrun_one(a.device)
    print('torchrun:', json.dumps(out['torchrun']), flush=True)
    out['total_wall_s'] = round(time.perf_counter() - t0, 1)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1) + '\n')
    print('wrote', a.json)

if __name__ == '__main__': main()
