"""A local preview of the documentation site that needs no Quarto.

The site itself is rendered by Quarto from the notebooks (`.github/workflows/deploy.yaml`, nbdev's standard GitHub
Pages workflow); Quarto cannot be installed on our machines. This script takes the same input Quarto gets, the
notebooks as nbdev processes them (`nbdev-proc-nbs`: exported code replaced by its documentation, hidden cells
dropped, each page's title and description in its front matter), and turns each into an HTML page with nbconvert,
with the sidebar of `nbs/sidebar.yml` on every page. Quarto's own cell options are honoured where a reader would
see them: `echo: false` hides a cell's code, `output: asis` renders its Markdown output.

    python tools/docs_preview.py                      # writes _preview/; open _preview/index.html
    python tools/docs_preview.py --screenshots DIR    # and headless-Chromium screenshots of the index and one page
"""
import argparse, copy, html, json, re, shutil, subprocess, sys
from pathlib import Path
import nbformat, yaml
from nbconvert import HTMLExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'_preview'

CSS = """
body { margin: 0; }
#mae-nav { position: fixed; top: 0; left: 0; bottom: 0; width: 15rem; overflow-y: auto; padding: 1rem;
           background: #f6f7f9; border-right: 1px solid #dde; font: 14px/1.5 system-ui, sans-serif;
           box-sizing: border-box; }
#mae-nav a { display: block; color: #234; text-decoration: none; padding: 1px 0 1px 0.6rem; }
#mae-nav a.here { font-weight: 600; border-left: 3px solid #37c; padding-left: calc(0.6rem - 3px); }
#mae-nav .section { margin: 0.9rem 0 0.2rem; font-weight: 600; color: #556; text-transform: uppercase;
                    font-size: 12px; }
#mae-nav .home { font-size: 17px; font-weight: 700; padding-left: 0; }
#mae-page { margin-left: 15rem; max-width: 60rem; padding: 0 2rem 3rem; }
#mae-page img { max-width: 100%; height: auto; }
#mae-page pre { overflow-x: auto; }
#mae-page table { border-collapse: collapse; margin: 0.8rem 0; }
#mae-page th, #mae-page td { border: 1px solid #ccd; padding: 3px 8px; }
#mae-page blockquote { color: #445; border-left: 4px solid #ccd; margin-left: 0; padding-left: 1rem; }
"""


def pages() -> list: # [(section or None, notebook name)] in the sidebar's order
    items = yaml.safe_load((ROOT/'nbs'/'sidebar.yml').read_text())['website']['sidebar']['contents']
    out = []
    for it in items:
        if isinstance(it, str): out.append((None, it))
        else: out += [(it['section'], n) for n in it['contents']]
    return out


def front_matter(nb) -> dict: # the page's title and description (Quarto's front matter, from nbdev's processing)
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            return yaml.safe_load(c.source.strip().strip('-')) or {}
    return {}


def options(src:str) -> dict: # Quarto cell options: `#| key: value` lines at the top of a cell
    opts = {}
    for line in src.splitlines():
        m = re.match(r'#\|\s*([\w-]+)\s*:\s*(.*)$', line)
        if not m: break
        opts[m[1]] = m[2].strip()
    return opts


def prepare(nb):
    "The notebook as Quarto would show it: front matter as a heading, code hidden where `echo: false`, options removed."
    nb = copy.deepcopy(nb)
    meta, cells = front_matter(nb), []
    if meta.get('title'):
        head = f"# {meta['title']}" + (f"\n\n> {meta['description']}" if meta.get('description') else '')
        cells.append(nbformat.v4.new_markdown_cell(head))
    for c in nb.cells:
        keep = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}
        for k in set(c) - keep: del c[k]  # nbdev's own marks
        c.metadata = nbformat.NotebookNode({k: v for k, v in c.metadata.items() if k == 'tags'})
        if c.cell_type == 'raw': continue
        if c.cell_type == 'markdown' and c.source.startswith('<!-- WARNING'): continue
        if c.cell_type == 'code':
            opts = options(c.source)
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
            if opts.get('echo') == 'false': c.metadata.setdefault('tags', []).append('remove_input')
            if opts.get('output') == 'asis':  # the Markdown a cell prints is the page's text
                for o in c.get('outputs', []):
                    if o.get('output_type') == 'stream':
                        o.update(output_type='display_data', data={'text/markdown': o.pop('text')}, metadata={})
            if not c.source.strip() and not c.get('outputs'): continue
        cells.append(c)
    nb.cells = cells
    return nb, meta


def nav(current:str, titles:dict) -> str:
    parts, section = [f'<a class="home" href="index.html">mae_nb</a>'], None
    for sec, name in pages():
        if sec != section and sec: parts.append(f'<div class="section">{html.escape(sec)}</div>')
        section = sec
        stem = Path(name).stem
        if stem == 'index': continue
        cls = ' class="here"' if stem == current else ''
        parts.append(f'<a{cls} href="{stem}.html">{html.escape(titles.get(stem, stem))}</a>')
    return '<nav id="mae-nav">' + '\n'.join(parts) + '</nav>'


def local_images(body:str, missing:list) -> str:
    "Point a page's relative image links at the files: from `nbs/` as Quarto does, else from the root (as the README)."
    def fix(m):
        src = m[2]
        if re.match(r'(data:|https?:|/)', src): return m[0]
        for base in (ROOT/'nbs', ROOT):
            if (base/src).exists():
                if base == ROOT: missing.append(f'{src} (only from the root: the README sees it, Quarto will not)')
                return m[1] + Path('..', (base/src).resolve().relative_to(ROOT)).as_posix() + m[3]
        missing.append(src); return m[0]
    return re.sub(r'(<img[^>]*\bsrc=")([^"]+)(")', fix, body)


def build() -> Path:
    subprocess.run(['nbdev-proc-nbs'], cwd=ROOT, check=True, capture_output=True)
    c = Config(); c.TagRemovePreprocessor.remove_input_tags = ('remove_input',); c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, template_name='lab', exclude_input_prompt=True, exclude_output_prompt=True)
    prepared = {}
    for _, name in pages():
        src = ROOT/'_proc'/name
        if not src.exists(): sys.exit(f"{src} is missing: nbdev-proc-nbs did not process {name}")
        prepared[Path(name).stem] = prepare(nbformat.read(src, as_version=4))
    titles = {stem: meta.get('title', stem) for stem, (_, meta) in prepared.items()}
    if OUT.exists(): shutil.rmtree(OUT)
    OUT.mkdir()
    for stem, (nb, meta) in prepared.items():
        body, _ = exporter.from_notebook_node(nb)
        missing = []
        body = local_images(body, missing)
        if missing: print(f"{stem}: images not found: {missing}")
        body = body.replace('</head>', f'<style>{CSS}</style></head>', 1)
        body = re.sub(r'<body([^>]*)>', lambda m: f'<body{m[1]}>{nav(stem, titles)}<div id="mae-page">', body, count=1)
        body = body.replace('</body>', '</div></body>', 1)
        (OUT/f'{stem}.html').write_text(body)
    return OUT


def chromium() -> str:
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        if path := shutil.which(name): return path
    sys.exit("screenshots need Chromium: apt-get install chromium")


def screenshot(page:Path, png:Path, height:int):
    subprocess.run([chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                    f'--window-size=1280,{height}', f'--screenshot={png}', page.as_uri()],
                   check=True, capture_output=True, timeout=120)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--screenshots', metavar='DIR', help='write index.png and a page of --page there')
    p.add_argument('--page', default='08_pretrain', help='the notebook page to photograph besides the index')
    p.add_argument('--height', type=int, default=2400, help='the height of the screenshots (px)')
    a = p.parse_args()
    out = build()
    print(f"wrote {len(list(out.glob('*.html')))} pages in {out}; open {out/'index.html'}")
    if a.screenshots:
        d = Path(a.screenshots); d.mkdir(parents=True, exist_ok=True)
        for stem in ('index', a.page):
            screenshot(out/f'{stem}.html', d/f'{stem}.png', a.height)
            print(f"screenshot {d/f'{stem}.png'}")
