#!/usr/bin/env python
"""Run notebooks top to bottom and keep their outputs, as they are committed (issue #14).

Each notebook runs in a fresh kernel from `nbs/` (nbclient), skipping the cells nbdev's tests skip (`#| slow`,
`#| notest`, `#| eval: false`), with `LESSON8_DATA` (default ../shared/data) and a throw-away `LESSON8_CACHE`.
Then: PNGs are re-encoded with a 256-colour palette when that is smaller; progress bars (tqdm widgets) are dropped
and widget state is kept only for 40_widgets, whose explorers are the point; and the outputs are searched for
paths of this machine (the checkout, the home folder, the temp folder), for progress bars left frozen in place and
for figures shown as `<Figure size ...>` text instead of a picture: each of these fails the run. Run `nbdev_clean`
afterwards (it keeps outputs and, with `allowed_metadata_keys = widgets`, the widget state).

    python bench/refresh_outputs.py                  # every notebook
    python bench/refresh_outputs.py 22_ulmfit_run    # some
"""
import argparse, base64, io, json, os, re, sys, tempfile, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
SKIP_FLAGS = {'slow', 'notest'}
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
PROGRESS = re.compile(r'\d+%\|')  # tqdm's bar, `desc:  40%|####      | 2/5 [...]`, whatever the unit
KEEP_WIDGETS = {'40_widgets.ipynb'}

def directives(src:str) -> dict:
    "nbdev's `#| name args` lines at the top of a cell."
    d = {}
    for l in src.splitlines():
        if not l.startswith('#|'):
            if l.strip(): break
            continue
        if parts := l[2:].strip().split(): d[parts[0].rstrip(':')] = parts[1:]
    return d

def skipped(cell) -> bool:
    d = directives(cell.source)
    return bool(SKIP_FLAGS & d.keys()) or d.get('eval', [''])[0].lower() == 'false' or 'nbdev_export(' in cell.source

def smaller_png(b64:str) -> str:
    "The PNG with a 256-colour palette, if that is smaller."
    raw = base64.b64decode(b64)
    q = Image.open(io.BytesIO(raw)).convert('RGB').quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO(); q.save(out, format='PNG', optimize=True)
    return base64.b64encode(out.getvalue()).decode() if out.tell() < len(raw) else b64

def tidy(nb, keep_widgets:bool):
    "Smaller PNGs; no progress bars or widget state unless `keep_widgets`."
    if not keep_widgets: nb.metadata.pop('widgets', None)
    for c in nb.cells:
        outs = []
        for o in c.get('outputs', []):
            data = o.get('data', {})
            if 'image/png' in data: data['image/png'] = smaller_png(data['image/png'])
            if WIDGET_VIEW in data and not keep_widgets:
                data.pop(WIDGET_VIEW)
                text = ''.join(data.get('text/plain', ''))
                if not data or PROGRESS.search(text) or text.startswith('HBox('): continue   # a progress bar
            outs.append(o)
        if 'outputs' in c: c.outputs = outs

def machine_needles() -> list[str]:
    "The paths of this machine an output must not name: the checkout, the home folder, the temp folder."
    return [str(ROOT), str(Path.home()), tempfile.gettempdir() + '/']

def machine_paths(nb, needles:list[str]) -> list[str]:
    "Outputs that name one of `needles` (paths of this machine), hold a progress bar frozen in place, or a figure as text."
    found = []
    for i, c in enumerate(nb.cells):
        text = json.dumps(c.get('outputs', []))
        found += [f'cell {i}: {n}' for n in needles if n in text]
        if PROGRESS.search(text): found.append(f'cell {i}: a progress bar (pass progress=False, or quiet the command)')
        if any(''.join(o.get('data', {}).get('text/plain', '')).startswith('<Figure size') and 'image/png' not in o.get('data', {})
               for o in c.get('outputs', [])):
            found.append(f'cell {i}: a figure shown as text, not drawn (import matplotlib.pyplot so the inline backend draws it)')
    return found

def run(path:Path, needles:list[str]) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    marked = [c for c in nb.cells if c.cell_type == 'code' and skipped(c)]
    for c in marked: c.metadata.setdefault('tags', []).append('skip-execution')   # nbclient leaves these alone
    t0 = time.time()
    NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': str(NBS)}},
                   store_widget_state=True).execute()
    for c in marked:
        c.metadata.tags.remove('skip-execution')
        if not c.metadata.tags: del c.metadata['tags']
    tidy(nb, path.name in KEEP_WIDGETS)
    nbformat.write(nb, path)
    print(f'{path.name}: {time.time() - t0:.0f} s, {path.stat().st_size / 1024:.0f} KiB', flush=True)
    return machine_paths(nb, needles)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*', help='notebook names (default: all in nbs/)')
    a = p.parse_args()
    names = a.names or sorted(f.stem for f in NBS.glob('*.ipynb'))
    with tempfile.TemporaryDirectory() as cache:
        os.environ.setdefault('LESSON8_DATA', '../shared/data')
        os.environ['LESSON8_CACHE'] = cache
        needles = machine_needles()
        bad = {n: found for n in names if (found := run(NBS/f'{Path(n).stem}.ipynb', needles))}
    if bad: sys.exit('outputs name paths of this machine (print them relative, or shorten them) or hold progress bars or undrawn figures:\n' +
                     '\n'.join(f'  {n}: {f}' for n, fs in bad.items() for f in fs))

if __name__ == '__main__': main()
