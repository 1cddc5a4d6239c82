#!/usr/bin/env python
"""End-to-end test of the two lesson widgets in a real browser.

Starts JupyterLab from this venv on 127.0.0.1 (random free port, random token, a throw-away root folder holding a
copy of nbs/40_widgets.ipynb), drives Debian's chromium through Playwright (headless; Playwright never downloads a
browser here), runs the notebook's cells, then types into the tokenization explorer and moves the batch-layout
explorer's sliders, checking what the page shows against the package's own Python functions. Fails on any
JavaScript error in the console, any error output in a cell, or any check that does not hold; saves a screenshot
of each widget. The server, its kernel and the browser are ended by process id, within a bounded time, however
the test ends.

    python tests/e2e_widgets.py [--artifacts DIR] [--update-images]

Needs: /usr/bin/chromium (`apt-get install chromium`), `pip install -e ".[dev,e2e]"`, and the data archives at
$LESSON8_DATA (default ../shared/data beside the checkout). Linux only (it reads /proc to find child processes).
"""
import argparse, json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.error, urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / 'nbs' / '40_widgets.ipynb'   # both explorers are displayed in this notebook
IMAGES = REPO / 'nbs' / 'images'
CHROMIUM = '/usr/bin/chromium'                  # Debian's package; never a browser downloaded by a tool
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-extensions', '--disable-default-apps']
TOTAL_LIMIT_S = 140      # the run before cleanup; cleanup's own waits are bounded (≤ ~35 s): under 3 minutes in all
STEP_TIMEOUT_MS = 30_000 # any single page step
RUN_ALL_TIMEOUT_MS = 90_000
MAX_PNG_BYTES = 150_000

ENGLISH = 'The U.S. dollar $1 is $1.00.'   # the lesson's example
THAI = 'ผมชอบกินข้าวผัดมาก'                 # "I like eating fried rice a lot"
BS, SEQ_LEN = 3, 2                         # the lesson's A..R layout
# Console errors we accept, with why. Empty: every console error fails the test.
BENIGN_CONSOLE_ERRORS: list[str] = []


class Failure(Exception): "A check that did not hold."

def check(cond: bool, msg: str):
    if not cond: raise Failure(msg)

def log(msg: str, t0=[time.monotonic()]): print(f'[{time.monotonic() - t0[0]:6.1f}s] {msg}', flush=True)


# --- processes ------------------------------------------------------------------------------------------------
def children_of(pid: int) -> list[int]:
    "All living descendants of `pid`, read from /proc."
    kids: dict[int, list[int]] = {}
    for d in Path('/proc').iterdir():
        if not d.name.isdigit(): continue
        try: stat = (d / 'stat').read_text()
        except OSError: continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []): out.append(k); todo.append(k)
    return out

def is_chromium(pid: int) -> bool:
    try: return 'chrom' in Path(f'/proc/{pid}/comm').read_text()
    except OSError: return False

def alive(pid: int) -> bool:
    try: state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError: return False
    return state != 'Z'

def end_processes(pids: list[int], what: str, grace_s: float = 8.0):
    "SIGTERM `pids`, wait up to `grace_s`, then SIGKILL whatever is left."
    pids = [p for p in dict.fromkeys(pids) if alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try: os.kill(p, sig)
            except ProcessLookupError: pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(alive(p) for p in pids): time.sleep(0.1)
        pids = [p for p in pids if alive(p)]
        if not pids: return
    check(not pids, f'{what}: processes {pids} survived SIGKILL')


# --- the server ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def prepare_root(tmp: Path) -> Path:
    "A root folder with a copy of the notebook (outputs cleared, nbdev's own export cell left out) and its images."
    root = tmp / 'root'
    root.mkdir()
    nb = json.loads(NOTEBOOK.read_text(encoding='utf-8'))
    # nbdev's export cell is left out, and so are empty code cells (JupyterLab never gives them an execution count)
    nb['cells'] = [c for c in nb['cells'] if not (c['cell_type'] == 'code' and ('nbdev_export' in ''.join(c['source'])
                                                                                or not ''.join(c['source']).strip()))]
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    (root / NOTEBOOK.name).write_text(json.dumps(nb), encoding='utf-8')
    shutil.copytree(IMAGES, root / 'images')                      # the screenshots its markdown shows
    return root

def server_env(tmp: Path) -> dict:
    "The environment of JupyterLab and its kernel: this venv, private Jupyter dirs, the data archives, inline plots."
    env = {k: v for k, v in os.environ.items() if k not in ('IN_TEST', 'MPLBACKEND', 'JUPYTER_TOKEN', 'PYTHONPATH')}
    for name in ('JUPYTER_CONFIG_DIR', 'JUPYTER_DATA_DIR', 'JUPYTER_RUNTIME_DIR', 'JUPYTERLAB_SETTINGS_DIR',
                 'JUPYTERLAB_WORKSPACES_DIR', 'IPYTHONDIR'):
        env[name] = str(tmp / name.lower()); (tmp / name.lower()).mkdir()
    env['PATH'] = f'{Path(sys.executable).parent}{os.pathsep}{env.get("PATH", "")}'
    data = Path(os.environ.get('LESSON8_DATA', REPO.parent / 'shared' / 'data'))
    check((data / 'SHA256SUMS').is_file(), f'no data archives at {data}: set LESSON8_DATA to the folder of SHA256SUMS')
    env['LESSON8_DATA'] = str(data.resolve())
    if 'LESSON8_CACHE' not in env: env['LESSON8_CACHE'] = str(tmp / 'lesson8_cache')
    settings = Path(env['JUPYTERLAB_SETTINGS_DIR'])
    user_settings = {  # every cell in the DOM (no virtual scrolling), no news or update checks
        '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'},
        '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false',
                                                                            'checkForUpdates': False},
    }
    for rel, value in user_settings.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    return env

def start_server(tmp: Path, root: Path, env: dict, port: int, token: str, log_path: Path) -> subprocess.Popen:
    config = Path(env['JUPYTER_CONFIG_DIR']) / 'jupyter_server_config.py'
    config.write_text('\n'.join([
        f'c.IdentityProvider.token = {token!r}',
        'c.ServerApp.ip = "127.0.0.1"', f'c.ServerApp.port = {port}', 'c.ServerApp.port_retries = 0',
        f'c.ServerApp.root_dir = {str(root)!r}', 'c.ServerApp.open_browser = False',
        'c.ServerApp.terminals_enabled = False', f'c.ServerApp.allow_root = {os.geteuid() == 0}',  # CI runs as root
        'c.LabApp.expose_app_in_browser = True',   # window.jupyterapp: run cells through the app's own commands
        'c.LabApp.news_url = None',
        'c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"',
        'c.LabApp.extension_manager = "readonly"',
    ]))
    config.chmod(0o600)
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', f'--config={config}']
    return subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log_path.open('wb'),
                            stderr=subprocess.STDOUT, start_new_session=True)

def wait_for_server(server: subprocess.Popen, port: int, token: str, log_path: Path, timeout_s: float = 60):
    url, deadline = f'http://127.0.0.1:{port}/api/status', time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check(server.poll() is None, f'JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}')
        try:
            req = urllib.request.Request(url, headers={'Authorization': f'token {token}'})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200: return json.load(r)
        except (urllib.error.URLError, ConnectionError, TimeoutError): pass
        time.sleep(0.3)
    raise Failure(f'JupyterLab did not answer {url} within {timeout_s}s:\n{log_path.read_text()[-3000:]}')


# --- what the page must show (from the package's own Python functions) ---------------------------------------
def expected() -> dict:
    from lesson8_nlp.lm_data import batch_layout, letters_stream
    from lesson8_nlp.thai import thai_word_tokenizer
    from lesson8_nlp.tokenizers import tokenize1
    exp = dict(english=tokenize1(ENGLISH), thai=thai_word_tokenizer()(THAI),
               batches=batch_layout(letters_stream(18), BS, SEQ_LEN))
    # the lesson's own words, literally, so a change in the tokenizer cannot silently move both sides
    check(exp['english'][:5] == ['xxbos', 'xxmaj', 'the', 'xxup', 'u.s'] and '1.00' in exp['english'],
          f'lesson tokens changed: {exp["english"]}')
    check(exp['thai'][0] == 'xxbos' and len(exp['thai']) > 3 and spell(exp['thai']) == THAI,
          f'Thai tokens do not cut the sentence into words: {exp["thai"]}')
    check([row for row in exp['batches'][0][0]] == [['A', 'B'], ['G', 'H'], ['M', 'N']], 'the A..R layout changed')
    return exp


def spell(thai_tokens: list[str]) -> str:
    "The text that Thai tokens after `xxbos` spell ('▁' is the space after `xxbos`)."
    return ''.join(thai_tokens[1:]).replace('▁', '')


# --- the page -----------------------------------------------------------------------------------------------
JS_NOTEBOOK_READY = """() => {
  const app = window.jupyterapp, w = app && app.shell.currentWidget;
  return !!(w && w.content && w.content.widgets && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle');
}"""
JS_KERNEL_PROBE = """async () => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const code = 'import json, os, sys, matplotlib; e = os.environ.get; print(json.dumps(dict(prefix=sys.prefix, ' +
               'mpl=matplotlib.get_backend(), in_test=e("IN_TEST"), data=e("LESSON8_DATA"))))';
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = '';
  future.onIOPub = msg => { if (msg.header.msg_type === 'stream') out += msg.content.text; };
  await future.done;
  return out;
}"""
JS_RUN_ALL = """() => {  // started here, waited for with JS_ALL_RAN (page.evaluate has no timeout)
  const app = window.jupyterapp, panel = app.shell.currentWidget;
  app.shell.collapseLeft(); app.shell.collapseRight();  // the notebook gets the page's width
  app.shell.activateById(panel.id);
  app.commands.execute('notebook:run-all-cells').catch(e => console.error('run-all-cells failed: ' + e));
}"""
JS_ALL_RAN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  return cells.every(c => c.model.executionCount !== null) && panel.sessionContext.session.kernel.status === 'idle';
}"""
JS_CELL_ERRORS = """() => {
  const errs = [];
  window.jupyterapp.shell.currentWidget.content.widgets.forEach((c, i) => {
    if (c.model.type !== 'code') return;
    for (const o of c.model.outputs.toJSON()) {
      const text = [].concat(o.text || []).join('');
      if (o.output_type === 'error') errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      else if (o.output_type === 'stream' && o.name === 'stderr' && /Traceback|Error:/.test(text))
        errs.push(`cell ${i} stderr: ${text.slice(0, 300)}`);
    }
  });
  return errs;
}"""
JS_CELL_TYPES = "() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.type)"
JS_CHIPS = "els => els.map(e => e.firstChild.textContent)"

def poll(fn, want, what: str, timeout_s: float | None = None):
    "Call `fn` until it returns `want`; fail with the last value after `timeout_s` (default: a page step's)."
    deadline, got = time.monotonic() + (STEP_TIMEOUT_MS / 1000 if timeout_s is None else timeout_s), None
    while time.monotonic() < deadline:
        got = fn()
        if got == want: return got
        time.sleep(0.2)
    raise Failure(f'{what}: expected {want!r}, the page shows {got!r}')

def dom_errors(page) -> list[str]:
    "Error outputs and widget-rendering failures visible in the notebook."
    out = [t[:300] for t in page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
           .all_inner_texts() if 'Traceback' in t or 'Error' in t]
    out += [t[:300] for t in page.locator('.jp-OutputArea-output').all_inner_texts() if 'Error displaying widget' in t]
    return out

def set_slider(page, root, label: str, value: int):
    "Type `value` into the slider's editable readout and press Enter, as a learner would."
    slider = root.locator('.widget-slider').filter(has=page.locator(f'.widget-label:text-is("{label}")'))
    check(slider.count() == 1, f'expected one {label!r} slider, found {slider.count()}')
    readout = slider.locator('.widget-readout')
    readout.click()
    readout.press('Control+a')   # the readout is contenteditable; Ctrl+A selects its text only
    readout.press_sequentially(str(value))
    readout.press('Enter')
    readout.evaluate('e => e.blur()')  # no focus ring in the screenshot
    handle = slider.locator('.noUi-handle')   # the slider itself follows the model's new value
    poll(lambda: float(handle.get_attribute('aria-valuenow')), float(value), f'{label} slider position')

def drive(page, base: str, token: str, exp: dict, art: Path):
    t = time.monotonic()
    page.goto(f'{base}/lab/tree/{NOTEBOOK.name}?token={token}', wait_until='domcontentloaded')
    page.wait_for_function(JS_NOTEBOOK_READY, timeout=60_000)
    log(f'notebook open, kernel idle ({time.monotonic() - t:.1f}s)')

    probe = json.loads(page.evaluate(JS_KERNEL_PROBE))
    check(probe['prefix'] == sys.prefix, f'kernel runs {probe["prefix"]}, not this venv {sys.prefix}')
    check('inline' in probe['mpl'] and probe['in_test'] is None, f'kernel has test settings (Agg, IN_TEST): {probe}')
    check(probe['data'] and Path(probe['data'], 'SHA256SUMS').is_file(), f'kernel has no LESSON8_DATA: {probe}')

    t = time.monotonic()
    page.evaluate(JS_RUN_ALL)
    page.wait_for_function(JS_ALL_RAN, timeout=RUN_ALL_TIMEOUT_MS, polling=250)
    log(f'ran all cells ({time.monotonic() - t:.1f}s)')
    errs = page.evaluate(JS_CELL_ERRORS) + dom_errors(page)
    check(not errs, 'error outputs in cells:\n' + '\n'.join(errs))
    cell_types = page.evaluate(JS_CELL_TYPES)  # typing must reach the widgets, not JupyterLab's shortcuts

    # The tokenization explorer: type the lesson's sentence, then a Thai one with the Thai tokenizer.
    te = page.locator('.l8-tokenizer-explorer')
    check(te.count() == 1, f'expected one tokenization explorer on the page, found {te.count()}')
    te.scroll_into_view_if_needed()
    chips = lambda: te.locator('.l8-tokens .l8-chip').evaluate_all(JS_CHIPS)
    te.locator('select').select_option(label='spaCy words')
    te.locator('textarea').fill(ENGLISH)
    poll(chips, exp['english'], 'tokens of the English sentence')
    got = chips()
    check(got[:5] == ['xxbos', 'xxmaj', 'the', 'xxup', 'u.s'] and '1.00' in got, f'lesson tokens missing: {got}')
    te.locator('textarea').blur()  # no focus ring in the screenshot
    te.screenshot(path=art / 'tokenizer_explorer.png')
    te.locator('select').select_option(label='Thai words (PyThaiNLP)')
    te.locator('textarea').fill(THAI)
    poll(chips, exp['thai'], 'tokens of the Thai sentence')
    check(chips()[0] == 'xxbos' and spell(chips()) == THAI, f'Thai chips do not spell the text: {chips()}')
    te.screenshot(path=art / 'tokenizer_explorer_thai.png')
    log('tokenization explorer: English and Thai tokens as expected')

    # The batch-layout explorer: the letters stream at the lesson's bs=3, seq_len=2.
    be = page.locator('.l8-batch-explorer')
    check(be.count() == 1, f'expected one batch-layout explorer on the page, found {be.count()}')
    be.scroll_into_view_if_needed()
    be.locator('select').select_option(label='letters A..R')
    set_slider(page, be, 'bs', BS)
    set_slider(page, be, 'seq_len', SEQ_LEN)
    row = lambda part, b, r: be.locator(f'td[data-gid^="{part}:{b}:{r}:"]').all_inner_texts()
    grid = lambda: [[[row(part, b, r) for r in range(BS)] for part in 'xy'] for b in range(len(exp['batches']))]
    poll(grid, [[x, y] for x, y in exp['batches']], 'batch grid')
    check([row('x', 0, r) for r in range(3)] == [['A', 'B'], ['G', 'H'], ['M', 'N']], 'batch 0 is not A B / G H / M N')
    check(be.locator('table.l8-batch').count() == len(exp['batches']), 'more batches shown than expected')
    plot = be.locator('.widget-image')
    check(plot.count() == 1 and plot.evaluate('img => img.naturalWidth') > 0, 'the batch plot is not shown')
    check('Error' not in be.inner_text(), f'the batch explorer shows an error: {be.inner_text()[:300]}')
    be.screenshot(path=art / 'batch_layout_explorer.png')
    log('batch-layout explorer: A..R grid as expected')

    errs = page.evaluate(JS_CELL_ERRORS) + dom_errors(page)
    check(not errs, 'error outputs after driving the widgets:\n' + '\n'.join(errs))
    check(page.evaluate(JS_CELL_TYPES) == cell_types, 'keys typed into the widgets changed the notebook\'s cells')


def run(art: Path, update_images: bool):
    from playwright.sync_api import sync_playwright
    check(Path(CHROMIUM).exists(), f'{CHROMIUM} is missing: apt-get install -y chromium')
    tmp = Path(tempfile.mkdtemp(prefix='l8-e2e-'))
    server, browser_pids, console = None, [], []
    try:
        root, env, port, token = prepare_root(tmp), server_env(tmp), free_port(), secrets.token_hex(24)
        server = start_server(tmp, root, env, port, token, art / 'jupyterlab.log')
        exp = expected()  # while the server starts
        log('expected tokens and layout computed')
        status = wait_for_server(server, port, token, art / 'jupyterlab.log')
        log(f'JupyterLab (pid {server.pid}) answers on 127.0.0.1:{port}, started {status.get("started")}')
        with sync_playwright() as p:
            before = set(children_of(os.getpid()))
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                        timeout=STEP_TIMEOUT_MS)
            browser_pids = [q for q in children_of(os.getpid()) if q not in before and is_chromium(q)]
            log(f'chromium {browser.version} (pids {browser_pids})')
            page = None
            try:
                page = browser.new_page(viewport={'width': 1280, 'height': 1500})  # tall: widgets fit in view
                page.set_default_timeout(STEP_TIMEOUT_MS)
                page.on('console', lambda m: console.append(f'console.{m.type}: {m.text}'))
                page.on('pageerror', lambda e: console.append(f'console.error: uncaught {e}'))
                drive(page, f'http://127.0.0.1:{port}', token, exp, art)
            except BaseException:
                try: page and page.screenshot(path=art / 'page_at_failure.png')
                except Exception as e: print(f'no screenshot of the failure: {e}', file=sys.stderr)
                raise
            finally:
                (art / 'console.log').write_text('\n'.join(console), encoding='utf-8')
                browser_pids += [q for q0 in browser_pids for q in children_of(q0)]
                browser.close()
        errors = [m for m in console
                  if m.startswith('console.error') and not any(b in m for b in BENIGN_CONSOLE_ERRORS)]
        check(not errors, 'JavaScript errors in the console:\n' + '\n'.join(errors))
    finally:
        signal.alarm(0)  # cleanup is not interrupted; its waits are bounded
        t = time.monotonic()
        end_processes(browser_pids, 'chromium', grace_s=5)
        if server is not None:
            server_pids = [server.pid] + children_of(server.pid)  # the kernel runs in its own session: by pid
            try: os.killpg(server.pid, signal.SIGTERM)   # the server and anything in its process group
            except ProcessLookupError: pass
            end_processes(server_pids, 'JupyterLab and its kernel', grace_s=10)
            server.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)
        log(f'cleaned up server, kernel and browser ({time.monotonic() - t:.1f}s)')
    for name in ('tokenizer_explorer.png', 'batch_layout_explorer.png'):
        size = (art / name).stat().st_size
        check(size < MAX_PNG_BYTES, f'{name} is {size} bytes: keep screenshots under {MAX_PNG_BYTES}')
        if update_images:
            IMAGES.mkdir(exist_ok=True)
            shutil.copyfile(art / name, IMAGES / name)
            log(f'updated nbs/images/{name} ({size} bytes)')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--artifacts', type=Path, help='folder for screenshots and logs (default: a new temp folder)')
    ap.add_argument('--update-images', action='store_true', help='copy the two screenshots to nbs/images/')
    args = ap.parse_args()
    art = (args.artifacts or Path(tempfile.mkdtemp(prefix='l8-e2e-artifacts-'))).resolve()
    art.mkdir(parents=True, exist_ok=True)

    def too_long(signum, frame): raise TimeoutError(f'the end-to-end test ran past {TOTAL_LIMIT_S}s')
    def stopped(signum, frame): raise Failure(f'stopped by signal {signum}')
    signal.signal(signal.SIGALRM, too_long)
    signal.signal(signal.SIGTERM, stopped)  # a CI timeout's SIGTERM still runs the cleanup below
    signal.alarm(TOTAL_LIMIT_S)
    t0, ok = time.monotonic(), False
    try:
        run(art, args.update_images)
        ok = True
    except (Failure, TimeoutError) as e:
        print(f'FAILED: {e}', file=sys.stderr)
    finally:
        signal.alarm(0)
        print(f'{"passed" if ok else "FAILED"} in {time.monotonic() - t0:.1f}s; artifacts (screenshots, logs) in {art}')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
