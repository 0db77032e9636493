"""Training-step speed by encoder width and precision on a CPU: fp32 or bf16 autocast, eager or compiled.

    python bench/precision.py --json bench/precision.json     # about 25 minutes on 2 cores
    python bench/precision.py --report bench/precision.json   # the table again, with the `precision='auto'` choice

1. GEMM yardsticks: fp32 (`sgemm`) and bf16 products of 2048 x 2048 matrices, all threads.
2. The training step alone (forward, backward, fused AdamW; removed patches predicted only; the attention kernel
   `mae_learner` picks) on one batch already in memory, for encoders 64, 128, 192 and 384 wide (patch 4, 28 px,
   6 blocks, the 64 x 2 decoder of `mae_vit_mini_patch4`, batch 128) and for `mae_vit_base_patch16` (224 px, batch 8).
   Each of fp32 eager, fp32 compiled, bf16 eager and bf16 compiled runs in its own process with an empty compiler
   cache; images/s is the median of timed rounds after warm-up.
3. The report: each row's share of the sgemm (and bf16 GEMM) rate, and what `precision='auto'` picks for it
   (`mae_nb.train.choose_precision`), eager and compiled, against the fastest step of the same kind and of all four.
Training FLOPs per image are counted with torch's FlopCounterMode (matrix products; forward + backward).
"""
import argparse, contextlib, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path
import torch

VARIANTS = {'fp32 eager': ('fp32', False), 'fp32 compiled': ('fp32', True),
            'bf16 eager': ('bf16', False), 'bf16 compiled': ('bf16', True)}

def width_kwargs(w:int) -> dict:
    "An encoder `w` wide, 6 blocks, heads 16 wide up to 64 and 32 wide beyond; the mini preset's light 64 x 2 decoder."
    return dict(embed_dim=w, depth=6, num_heads=w // 16 if w <= 64 else w // 32)

MODELS = {  # name: (preset, overrides, batch, image size, channels, timed rounds, steps per round)
    **{f'{w} wide': ('mae_vit_mini_patch4', width_kwargs(w), 128, 28, 1, 5, 10 if w <= 128 else 4)
       for w in (64, 128, 192, 384)},
    'ViT-B/16, 224 px': ('mae_vit_base_patch16', {}, 8, 224, 3, 3, 3),
}

def cpu_name():
    for l in open('/proc/cpuinfo'):
        if l.startswith('model name'): return l.split(':', 1)[1].strip()
    return platform.machine()

def cpu_flags() -> list:
    "The CPU flags that decide bf16 speed."
    for l in open('/proc/cpuinfo'):
        if l.startswith('flags'):
            return [f for f in l.split(':', 1)[1].split()
                    if f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile')]
    return []

def gemm(dtype, n=2048, reps=20) -> float:
    "GFLOP/s of `n` x `n` products in `dtype`, median of 5."
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3): a @ b
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps // 5): a @ b
        rates.append(2 * n ** 3 * (reps // 5) / (time.perf_counter() - t) / 1e9)
    return sorted(rates)[2]

def build(name):
    from mae_nb.model import create_mae
    from mae_nb.precision import use_fused_attention
    preset, kw, bs, size, chans, *_ = MODELS[name]
    m = create_mae(preset, img_size=size, in_chans=chans, **kw)
    use_fused_attention(m, m.num_patches > 64)  # as `mae_learner` chooses on a CPU
    return m, torch.randn(bs, chans, size, size)

def train_flops(name) -> float:
    "Matrix-product FLOPs of one training step per image (forward + backward)."
    from torch.utils.flop_counter import FlopCounterMode
    m, x = build(name)
    with FlopCounterMode(display=False) as fc: m(x, 0.75, m.mask_noise(len(x), 0.75), False)[0].backward()
    return fc.get_total_flops() / len(x)

def step_child(a):
    "One model and variant: the training step timed in this (fresh) process."
    from mae_nb.pretrain import mae_param_groups
    torch.manual_seed(0)
    m, x = build(a.model)
    precision, compiled = VARIANTS[a.variant]
    *_, rounds, steps = MODELS[a.model]
    if compiled: m.compile(dynamic=False)
    opt = torch.optim.AdamW(mae_param_groups(m, 0.05), lr=1e-4, betas=(0.9, 0.95), fused=True)
    ctx = (lambda: torch.autocast('cpu', torch.bfloat16)) if precision == 'bf16' else contextlib.nullcontext
    def step():
        with ctx(): loss = m(x, 0.75, m.mask_noise(len(x), 0.75), False)[0]
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    t = time.perf_counter(); step(); first = time.perf_counter() - t
    for _ in range(3): step()
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(steps): step()
        rates.append(steps * len(x) / (time.perf_counter() - t))
    print(json.dumps(dict(img_s=sorted(rates)[len(rates) // 2], first_step_s=first)))

def child(model, variant) -> dict:
    env = {**os.environ, 'TORCHINDUCTOR_CACHE_DIR': tempfile.mkdtemp()}  # no compiled code from an earlier run
    out = subprocess.run([sys.executable, __file__, '--child', model, variant], env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])

def as_measured(flags:list):
    "torch's CPU capability query as answered on the machine whose `flags` were recorded (the choice is judged there)."
    from unittest import mock
    caps = {'amx_bf16': 'amx_bf16' in flags, 'avx512_bf16': 'avx512_bf16' in flags}
    return mock.patch('torch.cpu.get_capabilities', return_value=caps)

def report(res):
    "Print the table, with what `precision='auto'` picks for each model and compile setting on the CPU measured."
    from mae_nb.precision import choose_precision
    from mae_nb.model import create_mae
    from mae_nb.pretrain import PretrainConfig, compiles
    sg, bg = res['sgemm_gflops'], res.get('bf16_gemm_gflops')
    print(f"{res['machine']} ({', '.join(res['flags'])}); torch {res['torch']}, {res['threads']} threads; "
          f"{res['date']}")
    print(f"fp32 GEMM (sgemm) {sg:.0f} GFLOP/s; bf16 GEMM {bg:.0f} GFLOP/s")
    for name, r in res['models'].items():
        mf = r['train_mflop_per_image']
        best = max(v['img_s'] for v in r['variants'].values())
        print(f"\n{name}: {mf:.0f} MFLOP per image per training step")
        for var, v in r['variants'].items():
            gf = v['img_s'] * mf / 1e3
            print(f"  {var:14s} {v['img_s']:8.1f} img/s  {gf:6.1f} GFLOP/s = {gf / sg:4.0%} of sgemm, "
                  f"{gf / bg:4.0%} of bf16 GEMM  (first step {v['first_step_s']:.1f} s)")
        v = r['variants']
        print(f"  bf16 / fp32: eager {v['bf16 eager']['img_s'] / v['fp32 eager']['img_s']:.2f}x, "
              f"compiled {v['bf16 compiled']['img_s'] / v['fp32 compiled']['img_s']:.2f}x")
        preset, kw, _, size, chans, *_ = MODELS[name]
        model = create_mae(preset, img_size=size, in_chans=chans, **kw)
        with as_measured(res['flags']):
            for compiled in (False, True):  # a short run steps eagerly, a long one compiles (`compiles`, notebook 08)
                step = 'compiled' if compiled else 'eager'
                p = choose_precision('auto', 'cpu', model, compiled=compiled)
                fastest = max(v[f'{q} {step}']['img_s'] for q in ('fp32', 'bf16'))
                got = v[f'{p.name} {step}']['img_s']
                print(f"  auto, {step:8s}: {p.name} ({p.why}): {got / fastest:.0%} of the fastest "
                      f"{step} step, {got / best:.0%} of the fastest of all four")
            long_compiles = compiles(PretrainConfig(), 10_000, model, 'cpu')  # a long run at the defaults
            p = choose_precision('auto', 'cpu', model, compiled=long_compiles)
            got = v[f"{p.name} {'compiled' if long_compiles else 'eager'}"]['img_s']
            print(f"  a long run at the defaults: {p.name}, {'compiled' if long_compiles else 'eager'}: "
                  f"{got / best:.0%} of the fastest of all four")

def markdown(res):
    "The table as bench/README.md shows it: images/s by width and variant, bf16's gain, a long run's auto choice."
    from mae_nb.model import create_mae
    from mae_nb.pretrain import PretrainConfig, compiles
    from mae_nb.precision import choose_precision
    sg, bg = res['sgemm_gflops'], res['bf16_gemm_gflops']
    print(f"| encoder | MFLOP/img | {' | '.join(VARIANTS)} | bf16 / fp32, compiled | best share of sgemm / bf16 GEMM "
          f"| a long run at the defaults picks | its share of the fastest |")
    print('|' + '---|' * (len(VARIANTS) + 6))
    for name, r in res['models'].items():
        v, mf = r['variants'], r['train_mflop_per_image']
        best = max(x['img_s'] for x in v.values())
        preset, kw, _, size, chans, *_ = MODELS[name]
        model = create_mae(preset, img_size=size, in_chans=chans, **kw)
        with as_measured(res['flags']):
            c = compiles(PretrainConfig(), 10_000, model, 'cpu')
            pick = f"{choose_precision('auto', 'cpu', model, compiled=c).name} {'compiled' if c else 'eager'}"
        cells = ' | '.join(f"{'**' if x['img_s'] == best else ''}{x['img_s']:.1f}{'**' if x['img_s'] == best else ''}"
                           for x in v.values())
        print(f"| {name} | {mf:.0f} | {cells} | {v['bf16 compiled']['img_s'] / v['fp32 compiled']['img_s']:.2f}x "
              f"| {best * mf / 1e3 / sg:.0%} / {best * mf / 1e3 / bg:.0%} | {pick} | {v[pick]['img_s'] / best:.0%} |")

def main(a):
    res = dict(machine=f"{cpu_name()}, {os.cpu_count()} cores", flags=cpu_flags(), torch=torch.__version__,
               date=time.strftime('%Y-%m-%d'), threads=torch.get_num_threads(),
               sgemm_gflops=gemm(torch.float32), bf16_gemm_gflops=gemm(torch.bfloat16), models={})
    print(f"{res['machine']}; sgemm {res['sgemm_gflops']:.0f}, bf16 GEMM {res['bf16_gemm_gflops']:.0f} GFLOP/s",
          flush=True)
    if a.json and a.models and Path(a.json).exists():  # more rows for an earlier run: same machine, yardsticks kept
        old = json.loads(Path(a.json).read_text())
        if (old['machine'], old['flags']) != (res['machine'], res['flags']):
            sys.exit(f"{a.json} was measured on {old['machine']} ({old['flags']}), not on this machine: "
                     "give another --json")
        added = dict(date=res['date'], models=a.models, sgemm_gflops=res['sgemm_gflops'],
                     bf16_gemm_gflops=res['bf16_gemm_gflops'])
        res = {**old, 'models': {**old['models']}, 'rows_added': [*old.get('rows_added', []), added]}
    for name in (a.models or MODELS):
        r = res['models'][name] = dict(train_mflop_per_image=train_flops(name) / 1e6, variants={})
        for var in VARIANTS:
            v = r['variants'][var] = child(name, var)
            print(f"  {name:18s} {var:14s} {v['img_s']:8.1f} img/s (first step {v['first_step_s']:.1f} s)", flush=True)
        if a.json: Path(a.json).write_text(json.dumps(res, indent=1))  # row by row: a stopped run keeps its rows

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--json', help='write every figure here')
    p.add_argument('--report', metavar='JSON', help='print the table of an earlier run, with the auto choice')
    p.add_argument('--markdown', metavar='JSON', help="the table of an earlier run as bench/README.md shows it")
    p.add_argument('--models', nargs='+', choices=list(MODELS), help='only these models')
    p.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child: a.model, a.variant = a.child; step_child(a)
    elif a.report: report(json.loads(Path(a.report).read_text()))
    elif a.markdown: markdown(json.loads(Path(a.markdown).read_text()))
    else: main(a)
