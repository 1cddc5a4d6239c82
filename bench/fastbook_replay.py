#!/usr/bin/env python
"""Replay fastbook's notebooks against lesson8_nlp: how many of their code cells run as written?

    python bench/fastbook_replay.py bench/.fastbook/10_nlp.ipynb bench/.fastbook/12_nlp_dive.ipynb
    python bench/fastbook_replay.py NB.ipynb --timeout 60 --data ../shared/data --out bench/out/replay.json

The notebooks (fastai/fastbook's 10_nlp.ipynb, 12_nlp_dive.ipynb) are reference data, kept in the git-ignored
bench/.fastbook/ and never committed. Each notebook runs in ONE fresh worker process that exec()s its code cells in
order in one shared namespace, like a kernel:

- skipped, not counted: fastbook's setup cells (any cell mentioning `fastbook`), cells made only of IPython magics
  or shell lines (`!`, `%`), and empty cells;
- the only edit to a counted cell: `from fastai.text.all import *` becomes `from lesson8_nlp.all import *`;
- a cell's last expression is evaluated and repr()'d, as IPython displays it (a trailing `;` hides it); `display`
  is there as IPython's builtin, nothing else of IPython is;
- time limit per cell (--timeout): at the limit the cell is interrupted (SIGALRM raises inside it, as Jupyter's
  "interrupt kernel" does) and recorded `timeout`; the namespace survives and the next cells run. A cell that does
  not stop within a grace period after that gets the worker killed: that cell is `timeout`, the rest `not_run`;
- status per cell: ok / error (exception type and first message line) / timeout / not_run, with seconds. A
  NameError for a name that an earlier failed or timed-out cell (or a skipped setup cell) was to define is marked
  `cascade_of` that cell (or "setup"), so first causes stand out. Cells are numbered 1.. among the notebook's
  code cells (skipped ones included); `first_line` is a cell's first line that is not a comment.

Environment: LESSON8_DATA = --data (default ../shared/data from the repo root) so `untar_data` extracts the
archives found there, a fresh temporary LESSON8_CACHE per notebook, IN_TEST=1 so a missing archive fails at once
instead of trying to download (the machine is offline), MPLBACKEND=Agg, the worker's cwd a temporary folder, torch
threads left at their default. --human-numbers-archive adds human_numbers.tgz, written by lesson8_nlp's own
`human_numbers()` (fastai's HUMAN_NUMBERS files), to a temporary overlay of the data folder, since the shared data
has none and 12_nlp_dive's `untar_data(URLs.HUMAN_NUMBERS)` would otherwise need the internet.

Writes the summary to --out (default bench/results/fastbook_replay.json; no machine paths in it) and every cell's
output and traceback to --log (default bench/.fastbook/replay_log.txt, git-ignored).
"""
import argparse, ast, datetime, hashlib, json, os, re, select, shutil, signal, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FASTAI_IMPORT, LESSON_IMPORT = 'from fastai.text.all import *', 'from lesson8_nlp.all import *'
GRACE_S = 60  # after the interrupt, how long a cell may take to stop before the worker is killed

class CellTimeout(BaseException):
    "Raised inside a cell at its time limit (a BaseException, so `except Exception` in the code under test lets it through)."

# ---------------------------------------------------------------- cells
def classify(src: str) -> str:
    "'setup', 'magic', 'empty' (skipped, not counted) or 'code'."
    lines = [l.strip() for l in src.splitlines() if l.strip() and not l.strip().startswith('#')]
    if 'fastbook' in src: return 'setup'
    if not lines: return 'empty'
    if all(l[0] in '!%' for l in lines): return 'magic'
    return 'code'

def assigned_names(src: str) -> set:
    "Names a cell binds at top level or anywhere (assignments, defs, classes, imports), for cascade detection."
    try: tree = ast.parse(src)
    except SyntaxError: return set()
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store): names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split('.')[0] for a in n.names if a.name != '*')
    return names

def read_cells(nb: Path) -> list[dict]:
    "Every code cell: its number (1-based among code cells), kind, and source with the one allowed edit."
    cells = [c for c in json.loads(nb.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']
    out = []
    for i, c in enumerate(cells, 1):
        src = ''.join(c['source'])
        out.append(dict(cell=i, kind=classify(src), source=src.replace(FASTAI_IMPORT, LESSON_IMPORT)))
    return out

# ---------------------------------------------------------------- worker (runs in the subprocess)
def run_cell(src: str, ns: dict, name: str):
    "exec the cell in `ns`; evaluate and repr its last expression as IPython would display it."
    tree = ast.parse(src, name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, 'exec'), ns)
    if last is not None:
        val = eval(compile(ast.Expression(last.value), name, 'eval'), ns)
        if val is not None and not src.rstrip().endswith(';'): print(repr(val))

def worker(cells_file: str, fd: int, timeout: float):
    import traceback
    out = os.fdopen(fd, 'w', buffering=1)
    def on_alarm(*_): raise CellTimeout(f'over the {timeout:g} s limit')
    signal.signal(signal.SIGALRM, on_alarm)
    ns = {'__name__': '__main__'}
    try:
        from IPython.display import display  # a builtin in every IPython kernel
        ns['display'] = display
    except ImportError: pass
    for c in json.loads(Path(cells_file).read_text()):
        print(f'\n===== cell {c["cell"]} =====\n{c["source"]}\n----- output -----', flush=True)
        res, t0 = dict(cell=c['cell'], status='ok'), time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            run_cell(c['source'], ns, f'<cell {c["cell"]}>')
            signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as e:
            signal.setitimer(signal.ITIMER_REAL, 0)
            traceback.print_exc()
            res['status'] = 'timeout' if isinstance(e, CellTimeout) else 'error'
            if res['status'] == 'error':
                msg = (str(e).strip().splitlines() or [''])[0]
                res['error'] = f'{type(e).__name__}: {msg}' if msg else type(e).__name__
                if isinstance(e, NameError) and getattr(e, 'name', None): res['name'] = e.name
        res['seconds'] = round(time.perf_counter() - t0, 2)
        sys.stdout.flush(); sys.stderr.flush()
        out.write(json.dumps(res) + '\n')

# ---------------------------------------------------------------- parent
class Lines:
    "Read JSON lines from a pipe with a deadline."
    def __init__(self, fd): self.fd, self.buf = fd, b''
    def get(self, wait: float):
        end = time.monotonic() + wait
        while b'\n' not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]: return None
            chunk = os.read(self.fd, 65536)
            if not chunk: return None  # the worker died
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line)

def make_overlay(data: Path, tmp: Path) -> Path:
    "A data folder with links to `data`'s archives plus human_numbers.tgz written by lesson8_nlp.human_numbers()."
    from lesson8_nlp.data import human_numbers
    ov = tmp/'data'; ov.mkdir()
    for f in data.iterdir():
        if f.name != 'SHA256SUMS': (ov/f.name).symlink_to(f.resolve())
    src = human_numbers(tmp/'hn_src')
    with tarfile.open(ov/'human_numbers.tgz', 'w:gz') as t:
        for f in sorted(src.iterdir()):
            if not f.name.startswith('.'): t.add(f, arcname=f'human_numbers/{f.name}')
    sums = (data/'SHA256SUMS').read_text() if (data/'SHA256SUMS').is_file() else ''
    sha = hashlib.sha256((ov/'human_numbers.tgz').read_bytes()).hexdigest()
    (ov/'SHA256SUMS').write_text(sums + f'{sha}  human_numbers.tgz\n')
    return ov

def run_notebook(nb: Path, a, data: Path, log, clean) -> dict:
    cells = read_cells(nb)
    counted = [c for c in cells if c['kind'] == 'code']
    tmp = Path(tempfile.mkdtemp(prefix='fastbook_replay_'))
    clean[str(tmp)] = '<tmp>'
    try:
        if a.human_numbers_archive: data = make_overlay(data, tmp)
        clean[str(data)] = '$LESSON8_DATA'
        (tmp/'cache').mkdir(); (tmp/'cwd').mkdir()
        clean[str(tmp/'cache')], clean[str(tmp/'cwd')] = '$LESSON8_CACHE', '<cwd>'
        (tmp/'cells.json').write_text(json.dumps(counted))
        env = dict(os.environ, LESSON8_DATA=str(data), LESSON8_CACHE=str(tmp/'cache'), IN_TEST='1', MPLBACKEND='Agg',
                   PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
        r, w = os.pipe()
        log.write(f'\n########## {nb.name} ##########\n'); log.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), '--worker', str(tmp/'cells.json'),
                                 str(w), '--timeout', str(a.timeout)], cwd=tmp/'cwd', env=env, stdout=log,
                                stderr=subprocess.STDOUT, pass_fds=(w,), start_new_session=True)
        os.close(w)
        lines, results = Lines(r), {}
        for c in counted:
            res = lines.get(a.timeout + GRACE_S)
            if res is None:  # hung past the interrupt, or died: the namespace is gone
                alive = proc.poll() is None
                results[c['cell']] = dict(cell=c['cell'], status='timeout' if alive else 'error', seconds=None,
                                          **({} if alive else {'error': f'worker died (exit {proc.returncode})'}))
                break
            results[res['cell']] = res
        try: os.killpg(proc.pid, signal.SIGKILL)  # the worker's own session: it and any pool it left behind
        except ProcessLookupError: pass
        proc.wait(); os.close(r)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # cascades: a NameError for a name that a failed earlier cell (or a skipped setup cell) was to bind
    failed_names = {n: 'setup' for c in cells if c['kind'] == 'setup' for n in assigned_names(c['source'])}
    rows = []
    for c in cells:
        if c['kind'] != 'code': continue
        res = results.get(c['cell'], dict(cell=c['cell'], status='not_run', seconds=None))
        if res.get('name') in failed_names: res['cascade_of'] = failed_names[res['name']]
        if res['status'] in ('error', 'timeout'):  # names it was to bind now point at the first cause
            failed_names.update((n, res.get('cascade_of', c['cell'])) for n in assigned_names(c['source']))
        res['first_line'] = next((l for l in c['source'].splitlines() if l.strip() and not l.startswith('#')), '')[:100]
        rows.append(res)
    count = {s: sum(r['status'] == s for r in rows) for s in ('ok', 'error', 'timeout', 'not_run')}
    kinds = [c['kind'] for c in cells]
    return dict(notebook=nb.name, sha256=hashlib.sha256(nb.read_bytes()).hexdigest(), code_cells=len(cells),
                not_counted={k: kinds.count(k) for k in ('setup', 'magic', 'empty')}, counted=len(rows), **count,
                first_cause_failures=sum(r['status'] in ('error', 'timeout') and 'cascade_of' not in r for r in rows),
                wall_s=round(wall, 1),
                failures=[{k: r[k] for k in ('cell', 'first_line', 'status', 'error', 'cascade_of', 'seconds') if k in r}
                          for r in rows if r['status'] != 'ok'],
                cells=[{k: r[k] for k in ('cell', 'status', 'seconds')} for r in rows])

def scrub(text: str, clean: dict) -> str:
    "Replace machine paths (temporary folders, the data folder, the repo root, the home folder) by placeholders."
    for p, rep in sorted(clean.items(), key=lambda kv: -len(kv[0])): text = text.replace(p, rep)
    text = text.replace(str(ROOT), '.').replace(str(Path.home()), '~')
    return re.sub(r'/(?:tmp|work|root|home)/[^\s\'",)]*', '<path>', text)

def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        return worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[5]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('notebooks', nargs='+', type=Path, help='fastbook notebooks (.ipynb)')
    p.add_argument('--timeout', type=float, default=120, help='seconds per cell before it is interrupted (default 120)')
    p.add_argument('--data', type=Path, default=Path('../shared/data'), help='LESSON8_DATA, relative to the repo root '
                   '(default ../shared/data)')
    p.add_argument('--human-numbers-archive', action='store_true', help='add human_numbers.tgz, written by '
                   'lesson8_nlp.human_numbers(), to a temporary overlay of --data')
    p.add_argument('--source', default='', help='free text recorded in the JSON, e.g. the notebooks\' repo and commit')
    p.add_argument('--out', type=Path, default=ROOT/'bench/results/fastbook_replay.json', help='JSON summary')
    p.add_argument('--log', type=Path, default=ROOT/'bench/.fastbook/replay_log.txt', help='cell outputs and tracebacks')
    a = p.parse_args()
    data = (a.data if a.data.is_absolute() else ROOT/a.data).resolve()
    if not data.is_dir(): p.error(f'--data {a.data}: no such folder')
    import lesson8_nlp, torch
    def git(*args):
        try: return subprocess.run(['git', '-C', str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError): return None
    commit = git('rev-parse', '--short', 'HEAD')
    if commit and git('status', '--porcelain', '--', 'lesson8_nlp'): commit += '+uncommitted changes in lesson8_nlp/'
    clean = {str(data): '$LESSON8_DATA'}
    a.log.parent.mkdir(parents=True, exist_ok=True)
    with open(a.log, 'w') as log:
        nbs = [run_notebook(nb, a, data, log, clean) for nb in a.notebooks]
    def rel(s):
        try: return str(Path(s).resolve().relative_to(ROOT)) if os.sep in s and Path(s).exists() else s
        except ValueError: return s
    res = dict(tool='bench/fastbook_replay.py', command=' '.join(['python', 'bench/fastbook_replay.py'] +
               [rel(x) for x in sys.argv[1:]]), date=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
               lesson8_nlp_version=lesson8_nlp.__version__, lesson8_nlp_commit=commit, python=sys.version.split()[0], torch=torch.__version__,
               cpus=os.cpu_count(), timeout_s=a.timeout, grace_s=GRACE_S, source=a.source,
               data='generated human_numbers.tgz overlay + LESSON8_DATA' if a.human_numbers_archive else 'LESSON8_DATA',
               notebooks=nbs, totals={k: sum(n[k] for n in nbs) for k in ('counted', 'ok', 'error', 'timeout', 'not_run')})
    text = scrub(json.dumps(res, indent=1, ensure_ascii=False), clean)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text + '\n', encoding='utf-8')
    for n in nbs:
        print(f"{n['notebook']}: {n['counted']} counted, {n['ok']} ok, {n['error']} error, {n['timeout']} timeout, "
              f"{n['not_run']} not run ({n['first_cause_failures']} first causes, {n['wall_s']} s)")
        for f in n['failures']:
            why = f.get('error', f['status']) + (f"  [cascade of {f['cascade_of']}]" if 'cascade_of' in f else '')
            print(f"  cell {f['cell']:>3}  {f['first_line'][:50]:<50}  {scrub(why, clean)[:150]}")
    print(f'wrote {rel(str(a.out))}; log in {rel(str(a.log))}')

if __name__ == '__main__':
    main()
