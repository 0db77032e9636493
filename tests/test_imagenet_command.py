"""The documented ImageNet pretraining commands (notebook 08): the recipe they give, and each one run, at a tiny size on
an ImageNet-shaped folder, as 2 CPU processes (gloo): one machine of 2 processes, and two machines of 1."""
import json, os, shlex, socket, subprocess, sys
from pathlib import Path
import pytest, torch
from PIL import Image
from mae_nb.cli import make_parser
from mae_nb.pretrain import PretrainConfig
from mae_nb.train import effective_batch, scaled_lr
from mae_nb.patchify import load_sample

ROOT = Path(__file__).resolve().parents[1]

def documented_commands() -> list: # the torchrun lines of notebook 08's ImageNet section
    cells = json.loads((ROOT/'nbs'/'08_pretrain.ipynb').read_text())['cells']
    text = next(''.join(c['source']) for c in cells
                if c['cell_type'] == 'markdown' and '### ImageNet' in ''.join(c['source']))
    block = text.split('### ImageNet', 1)[1].split('```sh', 1)[1].split('```', 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line.startswith('torchrun')]

def split(cmd:list) -> tuple: # (torchrun's options as a dict, the arguments of `mae_nb`)
    i = cmd.index('-m')
    assert cmd[i + 1] == 'mae_nb', cmd
    opts, rest = {}, cmd[1:i]
    for k, v in zip(rest[::2], rest[1::2]): opts[k.lstrip('-')] = v
    return opts, cmd[i + 2:]

def config(argv:list) -> PretrainConfig:
    args = vars(make_parser().parse_args(argv))
    assert args.pop('command') == 'pretrain'
    for k in ('resume', 'config', 'figures'): args.pop(k)
    return PretrainConfig(**args)

COMMANDS = documented_commands()

def test_two_commands_documented():
    assert len(COMMANDS) == 2
    (one, _), (two, _) = map(split, COMMANDS)
    assert (int(one.get('nnodes', 1)), int(one['nproc_per_node'])) == (1, 8)
    assert (int(two['nnodes']), int(two['nproc_per_node'])) == (2, 8)

@pytest.mark.parametrize('cmd', COMMANDS, ids=['8 GPUs', '2x8 GPUs'])
def test_paper_recipe(cmd):
    "Effective batch 4096 and the paper's ViT-B recipe (§A.1, Table 8), with the defaults an ImageNet run relies on."
    opts, argv = split(cmd)
    cfg, world = config(argv), int(opts.get('nnodes', 1)) * int(opts['nproc_per_node'])
    assert effective_batch(cfg.bs, cfg.accum, world) == 4096
    assert abs(scaled_lr(cfg.base_lr, 4096) - 2.4e-3) < 1e-12
    assert (cfg.preset, cfg.img_size, cfg.epochs, cfg.warmup) == ('mae_vit_base_patch16', 224, 800, 40)
    assert (cfg.mask_ratio, cfg.norm_pix_loss, cfg.weight_decay, cfg.betas) == (0.75, True, 0.05, (0.9, 0.95))
    assert (cfg.save_every, cfg.precision, cfg.num_workers, cfg.augment) == (20, 'auto', None, 'random_crop')

def imagenet_like(root:Path, n:int=24) -> Path: # train/<class>/*.png and val/<class>/*.png from the shipped sample
    x, y = load_sample('train')
    for c in (0, 1):
        idx = (y == c).nonzero()[:, 0].tolist()
        for split, part in (('train', idx[:n]), ('val', idx[n:n + 4])):
            d = root/split/f'n0000000{c}'; d.mkdir(parents=True)
            for i in part: Image.fromarray(x[i, 0].numpy()).convert('RGB').resize((20, 20)).save(d/f'{i}.png')
    return root

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def tiny(cmd:list, data:Path, out:Path, procs:int, node_rank:int, port:int) -> list: # the command, shrunk to a CPU test
    small = {'--source': str(data), '--preset': 'mae_vit_tiny_patch4', '--img-size': '16', '--epochs': '2', '--bs': '2',
             '--out': str(out), '--nproc_per_node': str(procs), '--node_rank': str(node_rank),
             '--master_addr': '127.0.0.1', '--master_port': str(port)}
    cmd = [small.get(prev, a) if prev in small else a for prev, a in zip([''] + cmd, cmd)]
    kw = ('{"embed_dim": 32, "depth": 2, "num_heads": 2, '
          '"decoder_embed_dim": 32, "decoder_depth": 1, "decoder_num_heads": 2}')
    return [sys.executable, '-m', 'torch.distributed.run'] + cmd[1:] + ['--model-kwargs', kw, '--no-figures']

@pytest.mark.parametrize('which', [0, 1],
                         ids=['8 GPUs as 1 machine of 2 processes', '2x8 GPUs as 2 machines of 1 process'])
def test_command_runs(tmp_path, which):
    cmd = COMMANDS[which]
    data, out = imagenet_like(tmp_path/'imagenet'), tmp_path/'run'
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': '',
           'MAE_NB_CACHE': str(tmp_path/'cache')}
    port = free_port()
    nodes = [tiny(cmd, data, out, 2, 0, port)] if which == 0 else [tiny(cmd, data, out, 1, r, port) for r in (0, 1)]
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for c in nodes]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), '\n'.join(l[-3000:] for l in logs)
    assert sorted(p.name for p in out.glob('checkpoint-*.pth')) == ['checkpoint-2.pth']  # every 20 epochs, and the last
    ck = torch.load(out/'checkpoint-2.pth', weights_only=True)
    accum = int(cmd[cmd.index('--accum') + 1])
    assert ck['world_size'] == 2 and ck['config']['accum'] == accum and ck['config']['save_every'] == 20
    assert len(list((tmp_path/'cache'/'verified').glob('*.json'))) == 1  # the folder checked, and recorded once
