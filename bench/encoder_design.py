"""The paper's Table 2 in miniature: what skipping the mask tokens in the encoder saves, in time and memory.

    python bench/encoder_design.py --json bench/encoder_design.json     # about 10 minutes on 2 CPU cores
    python bench/encoder_design.py --markdown bench/encoder_design.json # the table of bench/README.md
    python bench/encoder_design.py --smoke                              # every stage at a tiny size (seconds)

Three designs, as in Table 2: the encoder with mask tokens (every patch enters it, the removed ones as a shared mask
token: `mask_tokens_in_encoder=True`) and the preset's decoder; MAE (the encoder sees the visible patches only) with
the same decoder; MAE with a 1-block decoder. Two models:

1. `mae_vit_mini_patch4` (64 wide, 6 blocks, 2 x 64 decoder) pretraining on full Fashion-MNIST (60,000 images,
   batch 256, fp32, eager): the training phase of one epoch (data pipeline included, validation not), timed by a
   fastai callback, in a fresh process per design.
2. `mae_vit_base_patch16` (ViT-B/16, 8 x 512 decoder, 224 px): one training step (forward predicting the removed
   patches, backward, fused AdamW) on a batch in memory, median of timed steps after warm-up, fp32 on a CPU (bf16
   autocast on CUDA), in a fresh process per design.

Peak memory of each process: on CUDA `torch.cuda.max_memory_allocated`; on a CPU, the peak resident set (VmHWM)
minus the resident set just before training, i.e. what training itself added (activations, gradients, optimizer
state, the allocator's cache). The speed-up of a design is the with-mask-tokens time over its time, from one run of
this script.
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import torch

warnings.filterwarnings('ignore', message='.*(deprecated|CUDA is not available|No CUDA runtime).*')
DESIGNS = {'encoder with mask tokens': dict(mask_tokens_in_encoder=True), 'MAE': {},
           'MAE, 1-block decoder': dict(decoder_depth=1)}
PAPER = {'ViT-L': (42.4, 15.4, 11.6), 'ViT-H': (119.6, 34.5, 29.3)}  # Table 2, hours for 800 epochs on 128 TPU-v3 cores

def _rss_mb(field='VmRSS') -> float:
    for line in open('/proc/self/status'):
        if line.startswith(field): return int(line.split()[1]) / 1024
    return float('nan')

def _reset_peak(device):
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
    else:  # writing 5 to clear_refs resets VmHWM to the current RSS (Linux)
        try: Path('/proc/self/clear_refs').write_text('5')
        except OSError: pass
    return _rss_mb()

def _peak_mb(device, before):
    if device.type == 'cuda': return torch.cuda.max_memory_allocated(device) / 2**20
    return _rss_mb('VmHWM') - before

def epoch_child(design:str, smoke:bool) -> dict:
    "One pretraining epoch of the 64-wide preset on full Fashion-MNIST (a slice of the sample with --smoke)."
    from fastai.callback.core import Callback
    from mae_nb.loaders import mae_dataloaders
    from mae_nb.model import create_mae
    from mae_nb.pretrain import PretrainConfig, mae_learner
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    dls = mae_dataloaders('sample' if smoke else 'fashion_mnist', bs=64 if smoke else 256, seed=0, device=device,
                          labels=False)
    torch.manual_seed(0)
    model = create_mae('mae_vit_mini_patch4', **DESIGNS[design])
    cfg = PretrainConfig(source='fashion_mnist', epochs=1, bs=dls.bs,
                         precision='bf16' if device.type == 'cuda' else 'fp32', compile=False, out=tempfile.mkdtemp())
    class Clock(Callback):
        order = 100
        def before_train(self): self.before = _reset_peak(device); self.t0 = time.perf_counter()
        def after_train(self):
            if device.type == 'cuda': torch.cuda.synchronize(device)
            self.dt = time.perf_counter() - self.t0; self.peak = _peak_mb(device, self.before)
        def before_validate(self):
            from fastai.callback.core import CancelValidException; raise CancelValidException()
    clock = Clock()
    learn = mae_learner(dls, model, cfg, cbs=[clock])
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    return dict(epoch_s=clock.dt, steps=len(dls.train), batch=dls.bs, peak_mb=clock.peak, precision=cfg.precision)

def step_child(design:str, smoke:bool) -> dict:
    "The ViT-B/16 training step at 224 px (the tiny preset at 28 px with --smoke)."
    from mae_nb.model import create_mae
    from mae_nb.pretrain import mae_param_groups
    from mae_nb.train import mae_adamw
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    preset, size, C = ('mae_vit_tiny_patch4', 28, 1) if smoke else ('mae_vit_base_patch16', 224, 3)
    bs = 8 if device.type == 'cpu' else 128
    torch.manual_seed(0)
    model = create_mae(preset, img_size=size, in_chans=C, **DESIGNS[design]).to(device)
    opt = mae_adamw(mae_param_groups(model, 0.05), lr=1.5e-4).opt
    x = torch.randn(bs, C, size, size, device=device)
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == 'cuda'):
            loss = model(x, 0.75, model.mask_noise(bs, 0.75, device=device), False)[0]
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    before = _reset_peak(device)
    for _ in range(2): step()
    times = []
    for _ in range(2 if smoke else 5):
        t0 = time.perf_counter(); step()
        if device.type == 'cuda': torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return dict(step_s=statistics.median(times), batch=bs, peak_mb=_peak_mb(device, before),
                precision='bf16' if device.type == 'cuda' else 'fp32')

def child(kind:str, design:str, smoke:bool, threads:int|None) -> dict:
    env = {**os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {})}
    out = subprocess.run([sys.executable, __file__, '--child', kind, design] + ['--smoke'] * smoke, env=env,
                         capture_output=True, text=True)
    if out.returncode: raise RuntimeError(f"{kind} / {design} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])

def machine() -> dict:
    if torch.cuda.is_available(): return dict(machine=torch.cuda.get_device_name(0), flags=[])
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')),
               platform.processor())
    flags = next((l for l in open('/proc/cpuinfo') if l.startswith('flags')), '').split()
    return dict(machine=f"{cpu}, {os.cpu_count()} cores",
                flags=[f for f in flags if f in ('avx2', 'avx512_bf16', 'amx_bf16')])

def markdown(res:dict) -> str:
    rows = ["| model, what is timed | design | time | speed-up | peak memory added | memory, with mask tokens = 1 |",
            "|---|---|---|---|---|---|"]
    for kind, unit, what in (('epoch', 'epoch_s', 'one epoch, full Fashion-MNIST'), ('step', 'step_s', 'one step')):
        r = res[kind]; ref = r['encoder with mask tokens']
        name = '64 wide (`mae_vit_mini_patch4`)' if kind == 'epoch' else 'ViT-B/16, 224 px'
        for d, v in r.items():
            rows.append(f"| {name}, {what} (batch {v['batch']}, {v['precision']}) | {d} | {v[unit]:.2f} s | "
                        f"{ref[unit] / v[unit]:.2f}× | {v['peak_mb']:.0f} MB | {v['peak_mb'] / ref['peak_mb']:.2f} |")
    paper = '; '.join(f"{m}: {a / b:.1f}× (8-block decoder), {a / c:.1f}× (1 block)"
                      for m, (a, b, c) in PAPER.items())
    return '\n'.join(rows) + f"\n\nThe paper's Table 2 (wall-clock, 800 epochs, 128 TPU-v3 cores): {paper}."

def main(a):
    if a.markdown: print(markdown(json.loads(Path(a.markdown).read_text()))); return
    res = dict(**machine(), torch=torch.__version__, date=time.strftime('%Y-%m-%d'),
               threads=a.threads or torch.get_num_threads(), smoke=a.smoke, epoch={}, step={})
    print(f"{res['machine']} ({', '.join(res['flags'])}), torch {res['torch']}, {res['threads']} threads", flush=True)
    for kind in ('epoch', 'step'):
        for d in DESIGNS:
            r = res[kind][d] = child(kind, d, a.smoke, a.threads)
            ref = res[kind]['encoder with mask tokens']
            t = r['epoch_s' if kind == 'epoch' else 'step_s']
            print(f"  {kind:5s} {d:26s} {t:8.2f} s  {ref[kind + '_s'] / t:5.2f}x   peak +{r['peak_mb']:7.0f} MB",
                  flush=True)
            if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    print(markdown(res))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--markdown', help='print the table of an earlier run')
    ap.add_argument('--smoke', action='store_true', help='tiny sizes: checks every stage in seconds')
    ap.add_argument('--threads', type=int, help='torch threads of each measured process (default: torch\'s)')
    ap.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child: print(json.dumps((epoch_child if a.child[0] == 'epoch' else step_child)(a.child[1], a.smoke)))
    else: main(a)
