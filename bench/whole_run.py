"""A whole pretraining run against its training step: what compile warm-up, validation, logging and checkpoints cost.

    python bench/whole_run.py --json bench/whole_run.json   # 3 and 10 epochs, cold and warm cache: ~20 min on 2 cores
    python bench/whole_run.py --epochs 100 --cold-only --json bench/whole_run_100.json   # ~55 min on 2 cores

1. step: the compiled training step alone of `mae_vit_mini_patch4` at the run's defaults (batch 256,
   `precision='auto'`), on one batch already in memory, in a fresh process: images/s, the median of 5 rounds of 20
   steps after warm-up.
2. run: `mae-nb pretrain --source fashion_mnist --epochs N` with every other setting at its default, as a user runs it,
   timed from the process's start to its last checkpoint (and to its exit: the final reconstruction figure and
   ratio). Its efficiency is (training images x epochs) / step rate / time to the last checkpoint: 100% would mean
   that nothing but training steps took time.
3. cache: each run twice on one compiler cache folder (TORCHINDUCTOR_CACHE_DIR), first empty, then warm: what
   torch's FX-graph and AOTAutograd caches save a second run of the same model.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import torch

PRESET, BS, N_TRAIN = 'mae_vit_mini_patch4', 256, 60_000

def step_child():
    "The compiled step at the run's defaults, in this (fresh) process."
    from mae_nb.model import create_mae
    from mae_nb.pretrain import mae_param_groups
    from mae_nb.precision import use_fused_attention
    from mae_nb.train import mae_adamw
    from mae_nb.precision import choose_precision, precision_autocast
    torch.manual_seed(0)
    m = use_fused_attention(create_mae(PRESET), False)  # as `mae_learner` on a CPU for 49 patches
    m.compile(dynamic=False)
    p = choose_precision('auto', 'cpu', m, compiled=True)
    opt = mae_adamw(mae_param_groups(m, 0.05), lr=1e-4).opt
    x = torch.randn(BS, 1, 28, 28)
    def step():
        with (precision_autocast(p.name, 'cpu') or torch.autocast('cpu', enabled=False)):
            loss = m(x, 0.75, m.mask_noise(BS, 0.75), False)[0]
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    for _ in range(5): step()
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(20): step()
        rates.append(20 * BS / (time.perf_counter() - t))
    print(json.dumps(dict(img_s=sorted(rates)[2], precision=p.name, why=p.why)))

def step_rate() -> dict:
    env = {**os.environ, 'TORCHINDUCTOR_CACHE_DIR': tempfile.mkdtemp()}
    out = subprocess.run([sys.executable, __file__, '--child'], env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])

def whole_run(epochs:int, cache:str, extra:list=()) -> dict:
    "`mae-nb pretrain` with the defaults on full Fashion-MNIST, timed from process start."
    out = Path(tempfile.mkdtemp())/'run'
    env = {**os.environ, 'TORCHINDUCTOR_CACHE_DIR': cache}
    t0 = time.time()
    p = subprocess.run(['mae-nb', 'pretrain', '--source', 'fashion_mnist', '--epochs', str(epochs), '--out', str(out),
                        *extra], env=env, capture_output=True, text=True)
    exit_s = time.time() - t0
    if p.returncode: raise RuntimeError(p.stderr[-3000:])
    last = max(out.glob('checkpoint-*.pth'), key=lambda f: f.stat().st_mtime)
    steps = sum(1 for _ in open(out/'steps.csv')) - 1
    chose = next((l for l in p.stdout.splitlines() if l.startswith('precision auto')), '')
    return dict(epochs=epochs, args=' '.join(extra), to_checkpoint_s=last.stat().st_mtime - t0, to_exit_s=exit_s,
                train_images=steps * BS, precision_line=chose)

def main(a):
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
    flags = next((l for l in open('/proc/cpuinfo') if l.startswith('flags')), '').split()
    res = dict(machine=f"{cpu}, {os.cpu_count()} cores",
               flags=[f for f in flags if f in ('avx2', 'avx512_bf16', 'amx_bf16')],
               torch=torch.__version__, date=time.strftime('%Y-%m-%d'), runs=[])
    res['step'] = step_rate()
    rate = res['step']['img_s']
    print(f"{res['machine']} ({', '.join(res['flags'])}); compiled step at batch {BS}, {res['step']['precision']}: "
          f"{rate:.0f} img/s", flush=True)
    plan = []
    for n in a.epochs:  # a fresh cache folder each length: first empty, then warm with the first run's compiled code
        cache = tempfile.mkdtemp()
        plan += [(n, cache, 'cold cache')] + ([] if a.cold_only else [(n, cache, 'warm cache')])
    for epochs, cache, label in plan:
        r = whole_run(epochs, cache, a.args.split())
        r.update(cache=label, efficiency=r['train_images'] / rate / r['to_checkpoint_s'])
        res['runs'].append(r)
        print(f"  {epochs:3d} epochs{' ' + a.args if a.args else ''}, {label}: "
              f"{r['to_checkpoint_s']:6.1f} s to the last checkpoint ({r['to_exit_s']:.1f} s to exit); "
              f"steps alone would take {r['train_images'] / rate:.1f} s: efficiency {r['efficiency']:.0%}", flush=True)
        if a.json: Path(a.json).write_text(json.dumps(res, indent=1))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--epochs', type=int, nargs='+', default=[3, 10], help='run lengths to time, each cold and warm')
    ap.add_argument('--args', default='',
                    help="more settings for every run, e.g. '--compile' (a short run compiles only when told)")
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--cold-only', action='store_true',
                    help='only the empty-cache run of each length (a long run: the warm one saves the same warm-up)')
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    a = ap.parse_args()
    step_child() if a.child else main(a)
