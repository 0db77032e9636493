"""Pretraining speed of the small presets on a CPU: what each lever buys, and the whole epoch, old default vs new.

    python bench/cpu_speed.py                 # everything below, about 10 minutes on 2 cores
    python bench/cpu_speed.py --only epoch    # only the whole-epoch comparison

1. sgemm: the machine's fp32 matrix rate (2048 x 2048 products, all threads), the yardstick for GFLOP/s.
2. levers: the training step alone (forward, backward, fused AdamW; removed patches predicted only) of
   `mae_vit_mini_patch4` on one batch already in memory, for attention kernel x compile x batch x precision x
   threads. Each variant runs in its own process with an empty compiler cache, so compile times are real; images/s is
   the median of 5 timed rounds of 10 steps after warm-up.
3. presets: the same step for candidate CPU presets (width x depth, heads, decoder), compiled.
4. epoch: `mae_nb.pretrain` for one whole epoch of full Fashion-MNIST (60,000 training images, validation on 10,000,
   checkpoint and logs), timed from the call to its return (compilation included), alternating the old default path
   (eager, torch's fused attention) and the new one of a long run (compiled, unfused attention on a CPU), both
   `mae_vit_mini_patch4` at batch 128, two of each.
Training FLOPs per image are counted with torch's FlopCounterMode (matrix products; forward + backward).
"""
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path
import torch

MINI = 'mae_vit_mini_patch4'
PRESETS = {  # candidates for the CPU preset: overrides of mae_vit_mini_patch4
    '64x6, 4 heads, dec 64x2': {},
    '64x6, 2 heads, dec 64x2': dict(num_heads=2),
    '96x4, 4 heads, dec 64x2': dict(embed_dim=96, depth=4),
    '128x6, 4 heads, dec 128x2': dict(embed_dim=128, decoder_embed_dim=128),
}

def cpu_name():
    for l in open('/proc/cpuinfo'):
        if l.startswith('model name'): return l.split(':', 1)[1].strip()
    return platform.machine()

def sgemm(n=2048, reps=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps // 5): a @ b
        rates.append(2 * n ** 3 * (reps // 5) / (time.perf_counter() - t) / 1e9)
    return sorted(rates)[2]

def train_flops(model_kwargs, bs=128):
    "Matrix-product FLOPs of one training step per image (forward + backward)."
    from torch.utils.flop_counter import FlopCounterMode
    from mae_nb.model import create_mae
    m = create_mae(MINI, **model_kwargs)
    x = torch.randn(bs, 1, 28, 28)
    with FlopCounterMode(display=False) as fc:
        m(x, 0.75, m.mask_noise(bs, 0.75), False)[0].backward()
    return fc.get_total_flops() / bs

def step_child(a):
    "One variant of the training step, in this (fresh) process."
    import contextlib
    from mae_nb.model import create_mae
    from mae_nb.pretrain import mae_param_groups
    from mae_nb.precision import use_fused_attention
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = create_mae(MINI, **json.loads(a.model_kwargs))
    use_fused_attention(m, a.fused)
    if a.compile: m.compile(dynamic=False)
    opt = torch.optim.AdamW(mae_param_groups(m, 0.05), lr=1e-3, betas=(0.9, 0.95), fused=True)
    x = torch.randn(a.bs, 1, 28, 28)
    ctx = (lambda: torch.autocast('cpu', torch.bfloat16)) if a.bf16 else contextlib.nullcontext
    def step():
        with ctx(): loss = m(x, 0.75, m.mask_noise(a.bs, 0.75), False)[0]
        loss.backward(); opt.step(); opt.zero_grad()
    t = time.perf_counter(); step(); first = time.perf_counter() - t
    for _ in range(5): step()
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10): step()
        rates.append(10 * a.bs / (time.perf_counter() - t))
    print(json.dumps(dict(img_s=sorted(rates)[2], first_step_s=first)))

def epoch_child(a):
    "One whole epoch of `pretrain`, old or new default path, in this (fresh) process."
    from fastai.callback.core import Callback
    from mae_nb.pretrain import PretrainConfig, pretrain
    from mae_nb.precision import use_fused_attention
    class FusedAttention(Callback):  # the old default: torch's fused kernel everywhere
        def before_fit(self): use_fused_attention(self.learn.model, True)
    old = a.path == 'old'
    # a one-epoch run has 468 steps, below the 1,000 at which `compile=None` compiles: the new path is forced to,
    # so that its epoch pays the whole warm-up, as the first epoch of a long run does
    cfg = PretrainConfig(source='fashion_mnist', preset=MINI, bs=128, epochs=1, compile=not old,
                         out=tempfile.mkdtemp())
    t = time.perf_counter()
    learn = pretrain(cfg, figures=False, cbs=[FusedAttention()] if old else None)
    print(json.dumps(dict(wall_s=time.perf_counter() - t, compiled=learn.compiled,
                          valid_loss=learn.recorder.values[-1][1])))

def child(args:list) -> dict:
    env = {**os.environ, 'TORCHINDUCTOR_CACHE_DIR': tempfile.mkdtemp()}  # no compiled code from an earlier run
    out = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])

def step_args(bs=128, compile=True, fused=False, bf16=False, threads=2, model_kwargs=None):
    return (['--child', 'step', '--bs', str(bs), '--threads', str(threads),
             '--model-kwargs', json.dumps(model_kwargs or {})]
            + (['--compile'] if compile else []) + (['--fused'] if fused else []) + (['--bf16'] if bf16 else []))

def main(a):
    res = dict(machine=f"{cpu_name()}, {os.cpu_count()} cores", torch=torch.__version__,
               date=time.strftime('%Y-%m-%d'), threads=torch.get_num_threads(),
               bf16_native=torch.ops.mkldnn._is_mkldnn_bf16_supported())
    res['sgemm_gflops'] = sgemm()
    flops = res['train_mflop_per_image'] = train_flops({}) / 1e6
    print(f"{res['machine']}; torch {res['torch']}; sgemm {res['sgemm_gflops']:.0f} GFLOP/s; "
          f"{MINI}: {flops:.1f} MFLOP per image per training step", flush=True)
    share = lambda img_s, f=flops: img_s * f / 1e3 / res['sgemm_gflops']
    if a.only in (None, 'levers'):
        levers = {
            'eager, fused attention (old default)': step_args(compile=False, fused=True),
            'eager, unfused attention': step_args(compile=False),
            'compiled, fused attention': step_args(fused=True),
            'compiled, unfused attention (new default)': step_args(),
            'compiled, unfused, batch 256': step_args(bs=256),
            'compiled, unfused, batch 512': step_args(bs=512),
            'compiled, unfused, 1 thread': step_args(threads=1),
            'compiled, unfused, bf16 autocast': step_args(bf16=True),
        }
        res['levers'] = {}
        for name, args in levers.items():
            r = res['levers'][name] = child(args)
            print(f"  {name:45s} {r['img_s']:7.0f} img/s  {r['img_s'] * flops / 1e3:5.1f} GFLOP/s "
                  f"= {share(r['img_s']):.0%} of sgemm  (first step {r['first_step_s']:.1f} s)", flush=True)
    if a.only in (None, 'presets'):
        res['presets'] = {}
        for name, kw in PRESETS.items():
            f = train_flops(kw) / 1e6
            r = res['presets'][name] = {**child(step_args(model_kwargs=kw)), 'train_mflop_per_image': f}
            print(f"  {name:45s} {r['img_s']:7.0f} img/s  {f:6.1f} MFLOP/img  {share(r['img_s'], f):.0%} of sgemm",
                  flush=True)
    if a.only in (None, 'epoch'):
        runs = []
        for path in ('old', 'new', 'old', 'new'):
            r = child(['--child', 'epoch', '--path', path]); r['path'] = path; runs.append(r)
            print(f"  one epoch, {path} default path: {r['wall_s']:.1f} s (compiled: {r['compiled']}), "
                  f"valid loss {r['valid_loss']:.4f}", flush=True)
        res['epoch'] = runs
        old = sorted(r['wall_s'] for r in runs if r['path'] == 'old')
        new = sorted(r['wall_s'] for r in runs if r['path'] == 'new')
        res['epoch_speedup'] = [o / n for o, n in zip(old, new)]
        print(f"  new / old epoch throughput: {min(res['epoch_speedup']):.2f}x-{max(res['epoch_speedup']):.2f}x "
              f"(old {old[0]:.1f}/{old[1]:.1f} s, new {new[0]:.1f}/{new[1]:.1f} s)")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', choices=['levers', 'presets', 'epoch'])
    p.add_argument('--json', help='write every figure here')
    p.add_argument('--child', choices=['step', 'epoch'], help=argparse.SUPPRESS)
    p.add_argument('--path', help=argparse.SUPPRESS)
    p.add_argument('--bs', type=int, default=128, help=argparse.SUPPRESS)
    p.add_argument('--threads', type=int, default=2, help=argparse.SUPPRESS)
    p.add_argument('--model-kwargs', default='{}', help=argparse.SUPPRESS)
    for f in ('compile', 'fused', 'bf16'): p.add_argument(f'--{f}', action='store_true', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child == 'step': step_child(a)
    elif a.child == 'epoch': epoch_child(a)
    else: main(a)
