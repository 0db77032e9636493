"""CPU benchmark of one MAE pretraining step (forward, backward, AdamW step), fp32.

    python bench/pretrain_step.py                         # mae_nb alone
    python bench/pretrain_step.py --official PATH         # A/B against a local checkout of facebookresearch/mae

Reports images/s (median over interleaved repeats), peak resident memory (each implementation measured in its own
fresh process), and the encoder-only cost ratio of "all tokens through the encoder" vs "visible tokens only".
With --official it first checks that, with the same weights and the same noise, both give the same loss, pred and
mask. The official code is imported from PATH at run time (never copied into this project); two shims make it run
with today's libraries: `np.float` (removed in NumPy 1.24) and timm's `Block`, which no longer takes `qk_scale`.
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, time
import torch

def official_models_mae(path):
    "Import `models_mae` from an official checkout, with the two compatibility shims."
    import numpy as np, timm.models.vision_transformer as tvt
    if not hasattr(np, 'float'): np.float = float
    class Block(tvt.Block):
        def __init__(self, *args, qk_scale=None, **kwargs): super().__init__(*args, **kwargs)
    tvt.Block = Block
    sys.path.insert(0, str(path))
    import models_mae
    return models_mae

def build(impl, preset, official_path=None, **kw):
    if impl == 'ours':
        from mae_nb.loss import create_mae
        return create_mae(preset, **kw)
    # the official class takes the same arguments; our presets (official ones included) give the configuration
    from functools import partial
    from mae_nb.loss import mae_presets
    return official_models_mae(official_path).MaskedAutoencoderViT(
        **{**mae_presets[preset], **kw}, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))

def make_optimizer(model, kind):
    "AdamW as in the paper's recipe (no weight decay on 1-d parameters); `kind`: torch's default, foreach or fused."
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.}]
    opts = {'default': {}, 'foreach': {'foreach': True}, 'fused': {'fused': True}}[kind]
    return torch.optim.AdamW(groups, lr=1.5e-4, betas=(0.9, 0.95), **opts)

def train_step(model, opt, imgs):
    loss, _, _ = model(imgs, mask_ratio=0.75)
    loss.backward()
    opt.step(); opt.zero_grad(set_to_none=True)

def with_noise(impl, model, imgs, noise):
    "Forward with a fixed noise; the official forward has no noise argument, so its `torch.rand` is replaced for the call."
    if impl == 'ours': return model(imgs, 0.75, noise)
    rand = torch.rand
    torch.rand = lambda *a, **k: noise.clone()
    try: return model(imgs, 0.75)
    finally: torch.rand = rand

def check_same_numbers(official_path, preset, img_size, in_chans, batch):
    from mae_nb.loss import load_mae_checkpoint
    torch.manual_seed(0)
    for norm_pix in (False, True):
        off = build('official', preset, official_path, img_size=img_size, in_chans=in_chans, norm_pix_loss=norm_pix)
        ours = build('ours', preset, img_size=img_size, in_chans=in_chans, norm_pix_loss=norm_pix)
        for k in ('pos_embed', 'decoder_pos_embed'):  # our sin-cos tables, built independently, equal the official ones
            diff = (getattr(ours, k) - getattr(off, k)).abs().max().item()
            print(f"  {k} of a fresh model vs official: max |Δ| {diff:.1e}")
            if diff > 1e-6: sys.exit(1)
        load_mae_checkpoint(ours, {'model': off.state_dict()})  # strict: every key and shape must match
        imgs = torch.randn(batch, in_chans, img_size, img_size)
        noise = torch.rand(batch, ours.num_patches)
        with torch.no_grad():
            (l1, p1, m1), (l2, p2, m2) = with_noise('ours', ours, imgs, noise), with_noise('official', off, imgs, noise)
        ok = torch.equal(m1, m2) and torch.allclose(p1, p2, atol=1e-5, rtol=1e-5) and torch.allclose(l1, l2, atol=1e-6, rtol=1e-5)
        print(f"  same numbers ({preset}, {img_size}px, norm_pix_loss={norm_pix}): loss {l1.item():.6f} vs {l2.item():.6f}, "
              f"max |Δpred| {(p1 - p2).abs().max().item():.1e}, masks equal: {torch.equal(m1, m2)} -> {'OK' if ok else 'MISMATCH'}")
        if not ok: sys.exit(1)

def worker(args):
    "Run steps of one implementation in this (fresh) process and report its peak RSS."
    torch.manual_seed(0)
    model = build(args.worker, args.preset, args.official, img_size=args.img_size, in_chans=3)
    opt = make_optimizer(model, args.optimizer if args.worker == 'ours' else 'default')
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size)
    for _ in range(args.steps): train_step(model, opt, imgs)
    print(json.dumps({'peak_rss_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))

def peak_rss(impl, args):
    cmd = [sys.executable, __file__, '--worker', impl, '--preset', args.preset, '--batch', str(args.batch),
           '--img-size', str(args.img_size), '--steps', '3', '--optimizer', args.optimizer]
    if args.official: cmd += ['--official', args.official]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])['peak_rss_gb']

def time_steps(args, impls):
    "Interleaved A/B timing: each repeat times one step of every implementation in turn."
    torch.manual_seed(0)
    runs = {}
    for impl, opt_kind in impls:
        model = build(impl, args.preset, args.official, img_size=args.img_size, in_chans=3)
        runs[(impl, opt_kind)] = (model, make_optimizer(model, opt_kind), [])
    imgs = torch.randn(args.batch, 3, args.img_size, args.img_size)
    for _ in range(args.warmup):
        for model, opt, _ in runs.values(): train_step(model, opt, imgs)
    for _ in range(args.repeats):
        for model, opt, ts in runs.values():
            t0 = time.perf_counter(); train_step(model, opt, imgs); ts.append(time.perf_counter() - t0)
    return {k: args.batch / statistics.median(ts) for k, (_, _, ts) in runs.items()}

def encoder_ratio(args):
    "Encoder forward+backward time with all tokens (mask ratio 0) vs visible only (0.75), ours, median of repeats."
    from mae_nb.loss import create_mae
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

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='mae_vit_base_patch16')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--img-size', type=int, default=224)
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--optimizer', default='fused', choices=['default', 'foreach', 'fused'], help="mae_nb's AdamW variant")
    ap.add_argument('--official', help='path to a checkout of facebookresearch/mae (for the A/B comparison)')
    ap.add_argument('--worker', choices=['ours', 'official'], help=argparse.SUPPRESS)
    ap.add_argument('--steps', type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: return worker(args)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.preset}, {args.img_size}px, batch {args.batch}, fp32, 75% masking")
    if args.official:
        check_same_numbers(args.official, args.preset, args.img_size, 3, 2)
    impls = [('ours', args.optimizer)] + ([('ours', 'default'), ('official', 'default')] if args.official else [])
    ips = time_steps(args, impls)
    for (impl, opt_kind), v in ips.items():
        print(f"  train step {impl:8s} (AdamW {opt_kind:7s}): {v:6.2f} images/s")
    for impl in ['ours'] + (['official'] if args.official else []):
        print(f"  peak RSS {impl:8s}: {peak_rss(impl, args):.2f} GB")
    if args.official:
        print(f"  speed-up ours/official: {ips[('ours', args.optimizer)] / ips[('official', 'default')]:.2f}× "
              f"(same AdamW as official: {ips[('ours', 'default')] / ips[('official', 'default')]:.2f}×)")
    print(f"  encoder fwd+bwd, all tokens vs visible only: {encoder_ratio(args):.2f}× time")

if __name__ == '__main__': main()
