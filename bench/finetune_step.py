"""The fine-tuning step on the CPU by attention kernel and precision: timm's `Attention` with torch's fused kernel or
with the three ops written out, fp32 or bf16 autocast, eager (and compiled with --compile), one thread by default.

    python bench/finetune_step.py                      # 64 and 192 wide, eager
    python bench/finetune_step.py --widths 64 --compile

The ViT is the fine-tuning one (`create_vit`: 6 blocks, 16 channels a head, 28 px images in 4 px patches, 49
tokens and a cls token, mean pooling, 10 classes), batch 128, AdamW. The variants run in interleaved rounds in one
process, so the ratios hold on a busy machine; images/s is the median of the rounds.
"""
import argparse, json, time
import torch, torch.nn.functional as F
from mae_nb.weights import create_vit
from mae_nb.precision import cpu_name, use_fused_attention

def step_fn(width:int, fused:bool, compiled:bool, bf16:bool, bs:int):
    m = use_fused_attention(create_vit((28, 28), 4, 1, width, 6, width // 16, num_classes=10, global_pool='avg'), fused)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    def step(x, y):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): loss = F.cross_entropy(m(x), y)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return torch.compile(step) if compiled else step

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--widths', default='64,192'); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--bs', type=int, default=128); p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--steps', type=int, default=5, help='steps a round')
    p.add_argument('--compile', action='store_true')
    p.add_argument('--json', help='also write the figures here')
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    x, y = torch.randn(a.bs, 1, 28, 28), torch.randint(0, 10, (a.bs,))
    out = dict(cpu=cpu_name(), threads=a.threads, bs=a.bs, torch=torch.__version__, widths={})
    print(f"{cpu_name()}, {a.threads} thread(s), batch {a.bs}, torch {torch.__version__}")
    for width in map(int, a.widths.split(',')):
        variants = {f"{'compiled' if c else 'eager'} {'fused' if f else 'three ops'} {'bf16' if b else 'fp32'}":
                    step_fn(width, f, c, b, a.bs) for c in ((False, True) if a.compile else (False,))
                    for f in (True, False) for b in (False, True)}
        for s in variants.values(): [s(x, y) for _ in range(3)]  # warm-up (and compilation)
        rates = {k: [] for k in variants}
        for _ in range(a.rounds):
            for k, s in variants.items():
                t = time.perf_counter(); [s(x, y) for _ in range(a.steps)]
                rates[k].append(a.steps * a.bs / (time.perf_counter() - t))
        med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
        base = med['eager fused fp32']
        print(f"{width} wide:")
        for k, v in med.items(): print(f"  {k:28s} {v:7.0f} img/s  {v / base:.2f}x")
        out['widths'][width] = med
    if a.json:
        with open(a.json, 'w') as f: json.dump(out, f, indent=1)

if __name__ == '__main__': main()
