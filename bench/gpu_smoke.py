"""A short check, on one GPU, of every path a real run takes; `--cpu` runs the same at a tiny size on the CPU.

    bash bench/gpu_smoke.sh            # one CUDA GPU, a few minutes
    bash bench/gpu_smoke.sh --cpu      # the same script on the CPU (checks the script itself)

On the shipped sample (2,000 + 500 Fashion-MNIST images), with the default CPU preset:
  pretrain   1 epoch, compiled, bf16 (fp32 on the CPU); stopped and resumed for a 2nd epoch
  syncs      CUDA's count of host waits (`torch.cuda.set_sync_debug_mode`) in epochs of 8 and of 16 batches: equal
  probe      a cached linear probe of that encoder: encoder, head and features on the device
  finetune   1 epoch of fine-tuning, bf16
  folder     1 epoch on an ImageNet-shaped folder of PNGs, with the default loader processes: pinned batches on a
             GPU, and the same count of host waits for epochs of 8 and of 16 batches
  ddp        2 processes with torchrun: NCCL when the machine has 2 GPUs; with one GPU (NCCL will not share one),
             the gloo data-parallel test on the CPU (tests/test_distributed.py)
Each step prints ok or FAILED with its numbers and wall time; the exit status is 1 if any failed.
"""
import argparse, json, os, subprocess, sys, tempfile, time, traceback, warnings
from pathlib import Path
import torch

warnings.filterwarnings('ignore', message='.*(deprecated|No CUDA runtime|CUDA is not available).*')
ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cpu', action='store_true', help='run on the CPU with a tiny model (checks the script)')
    ap.add_argument('--out', default=None, help='run folders (default: a temporary folder)')
    ap.add_argument('--json', help='write the results here')
    a = ap.parse_args()
    gpu = torch.cuda.is_available() and not a.cpu
    if not gpu and not a.cpu: sys.exit("no CUDA device: run with --cpu to check the script on the CPU")
    from mae_nb.pretrain import PretrainConfig, pretrain
    from mae_nb.linprobe import linprobe
    from mae_nb.finetune import finetune
    out = Path(a.out or tempfile.mkdtemp(prefix='gpu_smoke_'))
    tiny = dict(model_kwargs=dict(depth=1, decoder_depth=1, embed_dim=64, num_heads=4, decoder_embed_dim=32,
                                  decoder_num_heads=4))
    size = {} if gpu else tiny
    precision = 'bf16' if gpu else 'fp32'
    device = torch.cuda.get_device_name() if gpu else 'CPU'
    print(f"device: {device}; torch {torch.__version__}; {time.strftime('%Y-%m-%d')}; runs in {out}", flush=True)
    results = {}

    def step(name, f):
        t0 = time.time()
        try: info, ok = f(), True
        except Exception as e: info, ok = f"{type(e).__name__}: {e}".splitlines()[0][:300], False; traceback.print_exc()
        results[name] = dict(ok=ok, info=info, wall_s=round(time.time() - t0, 1))
        print(f"{name:9s} {'ok' if ok else 'FAILED':6s} {time.time() - t0:6.1f}s  {info}", flush=True)

    def pretraining():
        cfg = dict(source='sample', bs=256, base_lr=3e-3, compile=True, precision=precision, out=str(out/'pretrain'),
                   **size)
        pretrain(PretrainConfig(**cfg, epochs=1), figures=False)
        learn = pretrain(PretrainConfig(**cfg, epochs=2), resume=True)
        rows = len((out/'pretrain'/'epochs.csv').read_text().splitlines()) - 1
        assert rows == 2, f"epochs.csv has {rows} rows, expected 2"
        assert {p.device.type for p in learn.model.parameters()} == {'cuda' if gpu else 'cpu'}
        last = learn.recorder.values[-1]
        return f"valid loss {last[1]:.4f}, recon_ratio {last[2]:.3f}, compiled {learn.compiled}"

    def syncs():
        if not gpu: return 'skipped on the CPU'
        counts = {}
        for bs in (250, 125):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always'); torch.cuda.set_sync_debug_mode('warn')
                try: pretrain(PretrainConfig(source='sample', epochs=1, bs=bs, out=str(out/f'sync{bs}'), **tiny),
                              figures=False)
                finally: torch.cuda.set_sync_debug_mode(0)
            counts[len(range(0, 2000 - bs + 1, bs))] = sum('synchroniz' in str(x.message) for x in w)
        assert len(set(counts.values())) == 1, f"host waits by training batches: {counts}"
        return f"host waits per 1-epoch run, by training batches: {counts}"

    def folder():
        from PIL import Image
        from mae_nb.patchify import load_sample
        x, y = load_sample('train')
        for i in range(len(x)):  # 2,000 images: train/<class>/, and 10% of them under val/<class>/ too
            for split in ('train',) + (('val',) if i % 10 == 0 else ()):
                d = out/'folder'/split/f'c{int(y[i])}'; d.mkdir(parents=True, exist_ok=True)
                Image.fromarray(x[i, 0].numpy()).save(d/f'{i}.png')
        counts = {}
        for bs in (250, 125):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always')
                if gpu: torch.cuda.set_sync_debug_mode('warn')
                try: learn = pretrain(PretrainConfig(source=str(out/'folder'), img_size=28, epochs=1, bs=bs,
                                                     out=str(out/f'folder{bs}'), **size), figures=False)
                finally:
                    if gpu: torch.cuda.set_sync_debug_mode(0)
            counts[len(learn.dls.train)] = sum('synchroniz' in str(x.message) for x in w)
        dl = learn.dls.train
        assert dl.pin_memory == gpu and dl.fake_l.persistent_workers == (dl.num_workers > 0), \
            (dl.pin_memory, dl.num_workers)
        if gpu: assert len(set(counts.values())) == 1, f"host waits by training batches: {counts}"
        return f"{dl.num_workers} loader processes, pinned {dl.pin_memory}; host waits by training batches: {counts}"

    def probe():
        learn = linprobe(checkpoint=str(out/'pretrain'), source='sample', epochs=1, bs=256, base_lr=10., cached=True,
                         precision=precision, out=str(out/'probe'))
        devs = {p.device.type for p in learn.vit.parameters()}
        assert devs == {'cuda' if gpu else 'cpu'}, f"the probed classifier is on {devs}"
        return f"top-1 {learn.result['top1']:.2%} (1 epoch), classifier on {devs.pop()}"

    def finetuning():
        learn = finetune(checkpoint=str(out/'pretrain'), source='sample', epochs=1, bs=128, precision=precision,
                         out=str(out/'finetune'))
        return f"top-1 {learn.result['top1']:.2%} (1 epoch)"

    def ddp():
        env = {**os.environ, 'MPLBACKEND': 'Agg'}
        if gpu and torch.cuda.device_count() >= 2:
            cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                   '-m', 'mae_nb', 'pretrain', '--source', 'sample', '--epochs', '1', '--bs', '256',
                   '--out', str(out/'ddp'), '--no-figures']
            what = 'NCCL, 2 GPUs'
        else:
            cmd = [sys.executable, '-m', 'pytest', '-q', str(ROOT/'tests'/'test_distributed.py')]
            what = 'gloo on the CPU (tests/test_distributed.py)'
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-1500:]
        return f"{what}: {r.stdout.strip().splitlines()[-1][:120]}"

    for name, f in [('pretrain', pretraining), ('syncs', syncs), ('probe', probe), ('finetune', finetuning),
                    ('folder', folder), ('ddp', ddp)]: step(name, f)
    if a.json: Path(a.json).write_text(json.dumps(dict(device=device, torch=torch.__version__,
                                                       date=time.strftime('%Y-%m-%d'), results=results), indent=1))
    sys.exit(0 if all(r['ok'] for r in results.values()) else 1)

if __name__ == '__main__': main()
