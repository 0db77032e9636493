"""tools/tidy_outputs.py: what a notebook printed, without fastai's progress bars; figures smaller, never larger."""
import base64, importlib.util, io, json
from pathlib import Path
import matplotlib; matplotlib.use('Agg')
import matplotlib.pyplot as plt

def _load():
    spec = importlib.util.spec_from_file_location('tidy', Path(__file__).resolve().parents[1]/'tools'/'tidy_outputs.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_progress_bars_and_warnings_go_figures_shrink(tmp_path):
    tidy = _load()
    printed = ('precision auto: bf16 (CPU with avx512_bf16, 64-wide encoder, eager step)\n'
               'fine-tuning on 2,000 images (sample) for 1 epochs at batch 64: 31 optimizer steps, lr 0.005\n'
               '1 channel: from the images in /tmp/data (typically 28 px)\n'
               '1 channel: from the images\n█\r█\r\r\rEpoch 1/1 :   |---| 0.00% [0/31]'
               '\rEpoch 1/1 : |█-| 3% [1/31]\n'
               '█epoch     train_loss  valid_loss  time\n0         0.5   0.4   00:01\n{\n "metrics": 1\n}\n')
    assert tidy.no_bars(printed) == '1 channel: from the images\n{\n "metrics": 1\n}\n'
    fig, ax = plt.subplots(figsize=(12, 3), dpi=150); ax.plot([0, 1], [1, 0])
    buf = io.BytesIO(); fig.savefig(buf, format='png')
    png = base64.b64encode(buf.getvalue()).decode()
    nb = {'cells': [{'cell_type': 'code', 'source': [], 'outputs': [
        {'output_type': 'stream', 'name': 'stdout', 'text': [printed]},
        {'output_type': 'stream', 'name': 'stderr', 'text': ['UserWarning: noise\n']},
        {'output_type': 'display_data', 'data': {'image/png': png, 'text/plain': ['<Figure>']}, 'metadata': {}}]}]}
    p = tmp_path/'nb.ipynb'; p.write_text(json.dumps(nb))
    before, after = tidy.tidy_notebook(p, width=900)
    assert after < before
    outs = json.loads(p.read_text())['cells'][0]['outputs']
    assert [o['output_type'] for o in outs] == ['stream', 'display_data']
    assert ''.join(outs[0]['text']).startswith('1 channel')
    from PIL import Image
    assert Image.open(io.BytesIO(base64.b64decode(outs[1]['data']['image/png']))).width == 900
