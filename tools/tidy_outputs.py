"""Tidy the outputs of notebooks run by `nbdev-test --save`: figures at most `--width` pixels wide in a 256-colour
palette, and no progress bars, start-up lines of runs or warnings.

    python tools/tidy_outputs.py --width 800 --colors 32 nbs/13_ablations.ipynb nbs/14_scaling.ipynb

`nbdev-test --save` draws figures at twice the pixels of a Jupyter session, and keeps what fastai's progress bars and
Python's warnings wrote. The plots are lines, markers and text, which a palette holds without visible loss; a figure
that a palette would not make smaller is left as it is. Progress bars are cut out of printed text, and so are the lines
a run prints as it starts (`precision auto: ...`, `fine-tuning on N images ...`, `1 channel: from the images in ...`):
every test that runs a stage would repeat them. stderr (warnings) is dropped.
"""
import argparse, base64, io, json, re
from pathlib import Path
from PIL import Image

def shrink_png(data:str, width:int, colors:int=256) -> str: # base64 PNG in, base64 PNG out
    im = Image.open(io.BytesIO(base64.b64decode(data)))
    if im.width > width: im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    buf = io.BytesIO()
    im = im.convert('RGB').quantize(colors, method=Image.Quantize.FASTOCTREE)  # keeps a plot's few saturated colours
    im.save(buf, 'png', optimize=True)
    return base64.b64encode(buf.getvalue()).decode()

STARTUP = re.compile(r'precision auto: |fine-tuning on [\d,]+ images '  # what a run says as it starts
                     r'|(image size \d+ and )?\d channels?: from the images in ')

def no_bars(text:str) -> str:
    "`text` as a terminal shows it (each line after its last CR), less progress bars, epoch tables and start-up lines."
    keep, table = [], False
    for raw in text.split('\n'):
        line = raw.split('\r')[-1].replace('█', '')
        if re.match(r'\s*epoch\s+train_loss', line): table = True; continue  # the epoch table a progress bar prints
        if table and re.match(r'\s*\d+\s+[-\d.]', line): continue
        table = False
        bar_left = ('\r' in raw or '█' in raw) and not line.strip()
        if STARTUP.match(line) or re.match(r'\s*Epoch \d+/\d+ :', line) or bar_left: continue
        keep.append(line)
    return '\n'.join(keep)

def tidy_notebook(path:Path, width:int=1000, colors:int=256) -> tuple: # (bytes before, bytes after)
    before = path.stat().st_size
    nb = json.loads(path.read_text())
    for cell in nb['cells']:
        outs = [o for o in cell.get('outputs', [])
                if not (o.get('output_type') == 'stream' and o.get('name') == 'stderr')]
        for o in outs:
            if o.get('output_type') == 'stream':
                o['text'] = no_bars(''.join(o['text'])).splitlines(keepends=True)
        cell['outputs'] = ([o for o in outs
                            if not (o.get('output_type') == 'stream' and not ''.join(o['text']).strip())]
                           if 'outputs' in cell else None)
        if cell['outputs'] is None: del cell['outputs']
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            if 'image/png' in data:
                new = shrink_png(data['image/png'], width, colors)
                if len(new) < len(data['image/png']): data['image/png'] = new
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return before, path.stat().st_size

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+', type=Path)
    ap.add_argument('--width', type=int, default=1000, help='the widest a figure may be, in pixels')
    ap.add_argument('--colors', type=int, default=256, help="the palette's size: 32 holds a line plot's colours")
    a = ap.parse_args()
    for p in a.notebooks:
        b, s = tidy_notebook(p, a.width, a.colors)
        print(f"{p}: {b / 1024:.0f} KB -> {s / 1024:.0f} KB")
