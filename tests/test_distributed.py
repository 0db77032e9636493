"""Data-parallel pretraining and fine-tuning on CPU: 2 processes, gloo backend, started with torchrun like a real multi-GPU run."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

HERE = Path(__file__).resolve().parent

@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1', 'CUDA_VISIBLE_DEVICES': ''}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(HERE/'ddp_worker.py'), str(out)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return out, [json.loads((out/f'rank{r}.json').read_text()) for r in range(2)]

def test_gloo_two_ranks(ranks):
    _, (r0, r1) = ranks
    assert (r0['world_size'], r1['world_size']) == (2, 2)
    assert r0['backend'] == r1['backend'] == 'gloo'

def test_ranks_see_disjoint_shards(ranks):
    _, (r0, r1) = ranks
    assert len(r0['seen']) == len(r1['seen']) == 2  # two epochs
    for a, b in zip(r0['seen'], r1['seen']):
        assert not set(a) & set(b), 'the two ranks trained on overlapping images'
        assert len(set(a) | set(b)) == r0['n_train']  # together they cover the training set
    assert r0['seen'][0] != r0['seen'][1]  # reshuffled every epoch

def test_parameters_identical_across_ranks(ranks):
    _, (r0, r1) = ranks
    assert r0['params_sha'] == r1['params_sha']

def test_lr_follows_effective_batch(ranks):
    _, (r0, r1) = ranks
    assert r0['effective_batch'] == r1['effective_batch'] == 32 * 2
    assert abs(r0['lr'] - 1.5e-3 * 64 / 256) < 1e-12

def test_only_rank0_writes(ranks):
    out, (r0, r1) = ranks
    assert r1['writes'] == []
    names = sorted(Path(p).name for p in r0['writes'] if Path(p).parent.name == 'run')
    assert names == ['checkpoint-1.pth', 'checkpoint-2.pth', 'loss.png', 'reconstructions.png']
    ck = out/'run'/'checkpoint-2.pth'
    import torch
    assert len(torch.load(ck, weights_only=True)['rng']) == 2  # both ranks' random states, for an exact resume

def test_finetune_data_parallel(ranks):
    out, (r0, r1) = ranks
    assert r0['ft_params_sha'] == r1['ft_params_sha']  # the gradients were averaged: both ranks hold the same model
    assert r0['ft_effective_batch'] == r1['ft_effective_batch'] == 64
    # the run's files are the run's: the final checkpoint only (save_every=1), and one epoch-log row per epoch
    assert sorted(p.name for p in (out/'ft').iterdir()) == ['checkpoint-2.pth', 'epochs.csv', 'result.json']
    assert len((out/'ft'/'epochs.csv').read_text().splitlines()) == 1 + 2
    # the recorded accuracy covers the whole validation set, not rank 0's shard
    assert r0['ft_n_valid'] == 500 and abs(r0['ft_top1'] - r0['ft_top1_all']) < 1e-6, (r0['ft_top1'], r0['ft_top1_all'])

def test_linprobe_data_parallel(ranks):
    out, (r0, r1) = ranks
    assert r0['lp_head_sha'] == r1['lp_head_sha']  # the probe head, trained on two shards, is one model
    assert abs(r0['lp_top1'] - r0['lp_top1_all']) < 1e-6
    assert (out/'lp'/'result.json').exists()

def test_resumed_linprobe_data_parallel(ranks):
    out, (r0, r1) = ranks
    assert r0['lp_is_final'] and r1['lp_is_final']  # the returned model holds the final weights, not the resume point's
    assert sorted(p.name for p in (out/'lp').iterdir()) == ['checkpoint-2.pth', 'epochs.csv', 'result.json']
    assert len((out/'lp'/'epochs.csv').read_text().splitlines()) == 1 + 2  # the resumed run continued the log
