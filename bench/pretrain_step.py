"""CPU benchmark of one full MAE pretraining step, fp32: mae_nb against the official facebookresearch/mae.

    python bench/pretrain_step.py                                   # mae_nb alone, with its technique ablation
    python bench/pretrain_step.py --official MAE [--official-timm T032]   # A/B against a local official checkout
    python bench/pretrain_step.py --official MAE --official-timm T032 --auto --compile   # and the default precision

One step of mae_nb = what its training loop runs per batch: forward predicting the removed patches only, backward,
fused AdamW, zero_grad (noise drawn outside the model, no host read of the loss); fp32, or with --auto also at the
default `precision='auto'` (bf16 autocast where the CPU does bf16 natively: the official code's CUDA autocast does
nothing on a CPU, so it always runs fp32 there).
One step of the official code = the body of `engine_pretrain.train_one_epoch`, called as it is there: its per-iteration
`lr_sched.adjust_learning_rate`, forward under `torch.cuda.amp.autocast()` (a no-op on a CPU), `loss.item()` and the
finite check, its `NativeScalerWithGradNormCount` (backward, gradient norm; the CUDA loss scaler disables itself on a
CPU), torch's default AdamW on `add_weight_decay` groups, `zero_grad()`. Only `torch.cuda.synchronize()` and the
metric logger are left out (the first cannot run on a CPU).

The official repository pins timm 0.3.2 (attention written out: q·kᵀ, softmax, ·v); with today's timm its `Block`
uses fused `scaled_dot_product_attention`. With --official-timm (a folder holding timm 0.3.2, e.g. from
`pip install --target T032 --no-deps timm==0.3.2`) both are measured. The official code is imported from the given
paths at run time and is never part of this project; shims make it run with today's libraries (`np.float`,
`torch._six`, timm's `Block` no longer taking `qk_scale`).

Throughput: median over interleaved repeats (each repeat times one step of every variant in turn, after warm-up),
so machine noise hits all alike. Peak memory: peak RSS (VmHWM) of a fresh process running 3 steps of one implementation.
Before timing, the script checks that with the same weights and noise every implementation gives the same loss.
"""
import argparse, collections.abc, json, math, os, platform, resource, statistics, subprocess, sys, time, types, warnings
from functools import partial
from pathlib import Path
import torch

warnings.filterwarnings('ignore', message='.*(deprecated|CUDA is not available|No CUDA runtime).*')

# ---------------------------------------------------------------- the official code, imported beside ours
def _official_modules(path, timm_path=None):
    "Import the official `models_mae`, `util.misc`, `util.lr_sched` (with `timm_path`'s timm if given), isolated."
    import numpy as np
    if not hasattr(np, 'float'): np.float = float
    six = types.ModuleType('torch._six')
    six.container_abcs, six.inf, six.string_classes, six.int_classes = collections.abc, math.inf, (str, bytes), int
    sys.modules.setdefault('torch._six', six)
    own = ('timm', 'models_mae', 'util')
    mine = lambda k: any(k == o or k.startswith(o + '.') for o in own)
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if mine(k)}
    sys.path[:0] = [str(path)] + ([str(timm_path)] if timm_path else [])
    try:
        import timm.models.vision_transformer as tvt
        if 'qk_scale' not in tvt.Block.__init__.__code__.co_varnames:  # today's timm: accept and drop qk_scale
            class Block(tvt.Block):
                def __init__(self, *args, qk_scale=None, **kwargs): super().__init__(*args, **kwargs)
            tvt.Block = Block
        import timm, timm.optim.optim_factory as optim_factory, models_mae, util.misc as misc, util.lr_sched as lr_sched
        return types.SimpleNamespace(models_mae=models_mae, misc=misc, lr_sched=lr_sched, timm_version=timm.__version__,
                                     add_weight_decay=getattr(optim_factory, 'add_weight_decay', None)
                                                      or optim_factory.param_groups_weight_decay)
    finally:
        del sys.path[:1 + bool(timm_path)]
        for k in [k for k in sys.modules if mine(k)]:
            sys.modules[f'_official_{timm_path is not None}_{k}'] = sys.modules.pop(k)
        sys.modules.update(saved)

class Official:
    "The official model, optimizer and engine step."
    def __init__(self, mods, preset, **kw):
        from mae_nb.model import mae_presets
        self.mods = mods
        self.model = mods.models_mae.MaskedAutoencoderViT(**{**mae_presets[preset], **kw},
                                                          norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
        self.opt = torch.optim.AdamW(mods.add_weight_decay(self.model, 0.05), lr=1.5e-4, betas=(0.9, 0.95))
        self.scaler = mods.misc.NativeScalerWithGradNormCount()
        self.args = types.SimpleNamespace(lr=1.5e-4, min_lr=0., warmup_epochs=40, epochs=800, accum_iter=1,
                                          mask_ratio=0.75)
        self.it = 0
    def loss(self, imgs, noise):
        "Forward with a fixed noise: the official forward draws it with `torch.rand`, replaced for the call."
        rand = torch.rand
        torch.rand = lambda *a, **k: noise.clone()
        try: return self.model(imgs, mask_ratio=0.75)
        finally: torch.rand = rand
    def step(self, imgs):
        "The body of `engine_pretrain.train_one_epoch` for one batch."
        args, self.it = self.args, self.it + 1
        self.mods.lr_sched.adjust_learning_rate(self.opt, self.it / 1000, args)
        with torch.cuda.amp.autocast():
            loss, _, _ = self.model(imgs, mask_ratio=args.mask_ratio)
        loss_value = loss.item()
        if not math.isfinite(loss_value): raise RuntimeError(f"Loss is {loss_value}")
        loss /= args.accum_iter
        self.scaler(loss, self.opt, parameters=self.model.parameters(), update_grad=True)
        self.opt.zero_grad()

# ---------------------------------------------------------------- mae_nb
class Ours:
    "mae_nb's training step, with switches for the ablation: removed-only prediction, fused AdamW, compile."
    def __init__(self, preset, pred_visible=False, fused=True, compile=False, precision='fp32', **kw):
        from mae_nb.model import create_mae
        from mae_nb.pretrain import mae_param_groups
        from mae_nb.train import warmup_cosine
        from mae_nb.precision import choose_precision, precision_autocast
        self.model = create_mae(preset, **kw)
        self.precision = choose_precision(precision, 'cpu', self.model, compile)
        self.autocast = lambda: precision_autocast(self.precision.name, 'cpu') or torch.autocast('cpu', enabled=False)
        self.opt = torch.optim.AdamW(mae_param_groups(self.model, 0.05), lr=1.5e-4, betas=(0.9, 0.95), fused=fused)
        self.sched, self.it, self.pred_visible = warmup_cosine(1.5e-4, 0.05), 0, pred_visible
        if compile: self.model.compile()
    def loss(self, imgs, noise): return self.model(imgs, 0.75, noise, pred_visible=self.pred_visible)
    def step(self, imgs):
        self.it += 1
        for g in self.opt.param_groups: g['lr'] = self.sched(self.it / 1e5)
        noise = self.model.mask_noise(len(imgs), 0.75, device=imgs.device)
        with self.autocast(): loss, _, _ = self.model(imgs, 0.75, noise, pred_visible=self.pred_visible)
        loss.backward()
        self.opt.step(); self.opt.zero_grad(set_to_none=True)

VARIANTS = {  # name: (implementation, options)
    'mae_nb': ('ours', {}),
    'mae_nb + torch.compile': ('ours', {'compile': True}),
    'mae_nb, predicting every patch': ('ours', {'pred_visible': True}),
    "mae_nb, torch's default AdamW": ('ours', {'fused': False}),
    "mae_nb, precision='auto'": ('ours', {'precision': 'auto'}),
    "mae_nb, precision='auto' + torch.compile": ('ours', {'precision': 'auto', 'compile': True}),
    'official, timm 0.3.2 (as pinned)': ('official032', {}),
    "official, today's timm": ('official', {}),
}

def build(name, args, norm_pix_loss=False):
    impl, opts = VARIANTS[name]
    kw = dict(img_size=args.img_size, in_chans=3, norm_pix_loss=norm_pix_loss)
    if impl == 'ours': return Ours(args.preset, **opts, **kw)
    mods = _official_modules(args.official, args.official_timm if impl == 'official032' else None)
    return Official(mods, args.preset, **kw)

def variants(args):
    names = (['mae_nb'] + (['mae_nb + torch.compile'] if args.compile else [])
             + ['mae_nb, predicting every patch', "mae_nb, torch's default AdamW"])
    if args.auto:
        names += ["mae_nb, precision='auto'"] + (["mae_nb, precision='auto' + torch.compile"] if args.compile else [])
    if args.official:
        names += (['official, timm 0.3.2 (as pinned)'] if args.official_timm else []) + ["official, today's timm"]
    return names

# ---------------------------------------------------------------- checks and measurements
def check_same_loss(args, names):
    "Same weights (the first variant's state dict loaded into each), same noise: same loss, raw and normalised targets."
    from mae_nb.weights import mae_from_checkpoint
    losses = {}
    for norm_pix in (False, True):
        torch.manual_seed(0)
        # the fp32 variants, whose losses must be equal
        runs = {n: build(n, args, norm_pix) for n in names if 'compile' not in n and 'auto' not in n}
        sd = runs[names[0]].model.state_dict()
        imgs, noise = torch.randn(2, 3, args.img_size, args.img_size), torch.rand(2, runs[names[0]].model.num_patches)
        for n, r in runs.items():
            if isinstance(r, Ours): mae_from_checkpoint(sd, model=r.model)
            else: r.model.load_state_dict(sd)
            with torch.no_grad(): losses[f'{n}, norm_pix_loss={norm_pix}'] = l = r.loss(imgs, noise)[0].item()
            ref = losses[f'{names[0]}, norm_pix_loss={norm_pix}']
            print(f"  loss, same weights and noise, norm_pix_loss={norm_pix!s:5s}: {n:34s} {l:.7f} "
                  f"(rel. diff {abs(l - ref) / abs(ref):.1e})")
            if abs(l - ref) > 1e-5 * abs(ref): sys.exit(f"loss mismatch: {n}")
    return losses

def time_steps(args, names):
    torch.manual_seed(0)
    runs = {n: build(n, args) for n in names}
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size)
    for n, r in runs.items():
        for _ in range(args.warmup + (3 if 'compile' in n else 0)): r.step(imgs)
    ts = {n: [] for n in runs}
    for _ in range(args.repeats):
        for n, r in runs.items():
            t0 = time.perf_counter(); r.step(imgs); ts[n].append(time.perf_counter() - t0)
    return {n: args.batch / statistics.median(v) for n, v in ts.items()}

def worker(args):
    "Run 3 steps of one variant in this (fresh) process; print its peak RSS."
    import mae_nb.pretrain  # every variant's process imports the same libraries (fastai included), so peaks compare
    torch.manual_seed(0)
    r = build(args.worker, args)
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size)
    for _ in range(3): r.step(imgs)
    print(json.dumps({'peak_rss_gb': peak_rss_self()}))

def peak_rss_self():
    "This process's peak resident set (VmHWM; not `ru_maxrss`, which a child inherits from its parent across exec)."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM:'): return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # not Linux

def peak_rss(name, args):
    cmd = [sys.executable, __file__, '--worker', name, '--preset', args.preset, '--batch', str(args.batch),
           '--img-size', str(args.img_size)]
    if args.official: cmd += ['--official', args.official]
    if args.official_timm: cmd += ['--official-timm', args.official_timm]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode: sys.exit(f"peak-memory worker for {name!r} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_rss_gb']

def encoder_ratio(args):
    "Encoder forward+backward time with all tokens (mask ratio 0) vs visible only (0.75), mae_nb, median of repeats."
    from mae_nb.model import create_mae
    torch.manual_seed(0)
    enc = create_mae(args.preset, img_size=args.img_size, in_chans=3)
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size)
    ts = {0.0: [], 0.75: []}
    for i in range(args.warmup + args.repeats):
        for r in ts:
            t0 = time.perf_counter()
            enc.forward_encoder(imgs, r)[0].sum().backward()
            if i >= args.warmup: ts[r].append(time.perf_counter() - t0)
            enc.zero_grad(set_to_none=True)
    return statistics.median(ts[0.0]) / statistics.median(ts[0.75])

def embed_ablation(args):
    "Patch embedding fwd+bwd: every patch by the convolution then 75% dropped (official) vs the kept patches by a GEMM."
    import torch.nn.functional as F
    from mae_nb.model import create_mae
    from mae_nb.encoder import patch_pixels
    from mae_nb.masking import random_masking
    m = create_mae(args.preset, img_size=args.img_size, in_chans=3)
    imgs, noise = torch.randn(args.batch, 3, args.img_size, args.img_size), torch.rand(args.batch, m.num_patches)
    w, b, p = m.patch_embed.proj.weight, m.patch_embed.proj.bias, m.patch_size
    def official(): return random_masking(m.patch_embed(imgs), 0.75, noise)[0]
    def ours(): return F.linear(random_masking(patch_pixels(imgs, p), 0.75, noise)[0], w.flatten(1), b)
    ts = {'official': [], 'ours': []}
    for i in range(args.warmup + 5 * args.repeats):
        for k, f in (('official', official), ('ours', ours)):
            t0 = time.perf_counter(); f().sum().backward(); m.zero_grad(set_to_none=True)
            if i >= args.warmup: ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in ts.items()}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='mae_vit_base_patch16')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--img-size', type=int, default=224)
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--compile', action='store_true',
                    help='also time mae_nb with torch.compile (compiles first: minutes)')
    ap.add_argument('--official', help='path to a checkout of facebookresearch/mae (for the A/B comparison)')
    ap.add_argument('--official-timm', help='folder holding timm 0.3.2, the version the official code pins')
    ap.add_argument('--no-memory', action='store_true', help='skip the peak-memory processes')
    ap.add_argument('--auto', action='store_true',
                    help="also time mae_nb with precision='auto' (bf16 where the CPU does it natively)")
    ap.add_argument('--encoder-ratio', action='store_true',
                    help='also time the encoder with all tokens vs visible ones')
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--worker', choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.official_timm and not args.official: ap.error('--official-timm needs --official')
    if args.worker: return worker(args)

    names = variants(args)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.preset}, {args.img_size}px, batch {args.batch}, fp32, 75% masking")
    losses = check_same_loss(args, names)
    ips = time_steps(args, names)
    base = ips.get('official, timm 0.3.2 (as pinned)') or ips.get("official, today's timm")
    mem = {} if args.no_memory else {n: peak_rss(n, args) for n in names if 'compile' not in n and 'every' not in n}
    for n, v in ips.items():
        rel = f"  {v / base:.2f}× official{' (as pinned)' if args.official_timm else ''}" if base else ''
        print(f"  {n:34s} {v:7.2f} images/s{rel}" + (f"   peak RSS {mem[n]:.2f} GB" if n in mem else ''))
    if args.encoder_ratio: print(f"  encoder fwd+bwd, all tokens vs visible only: {encoder_ratio(args):.2f}× time")
    emb = embed_ablation(args)
    print(f"  patch embedding fwd+bwd: all patches by the convolution, then masked {emb['official']:.1f} ms; "
          f"kept patches by a GEMM {emb['ours']:.1f} ms")
    if args.json:
        res = dict(args=vars(args), images_per_s=ips, embed_ms=emb, peak_rss_gb=mem, loss=losses,
                   date=time.strftime('%Y-%m-%d'), torch=torch.__version__)
        Path(args.json).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
